// Reading a QR code with the phone's camera: the browser's own BarcodeDetector where it has one
// (Chrome on Android), else jsQR on frames drawn to a canvas. The camera stops as soon as a code
// is read or the person cancels; pasting the text is always there as well.

import jsQR from 'jsqr';
import * as i18n from './i18n.js';
import { action, h } from './ui.js';

const { t } = i18n;
/** How often a frame is looked at, in milliseconds. */
const EVERY_MS = 200;
/** Frames are scaled down to at most this width before decoding: enough for a key's QR code. */
const MAX_WIDTH = 640;

/** Reads one QR code from the camera; resolves to its text, or null when cancelled. */
function scanOnce(panel) {
  return new Promise((resolve, reject) => {
    const video = h('video', { playsinline: true, muted: true, class: 'scan-video', 'aria-label': t('scan.camera') });
    const canvas = h('canvas', { hidden: true });
    let stream = null;
    let timer = null;
    const stop = (value) => {
      clearInterval(timer);
      for (const track of stream?.getTracks() ?? []) track.stop();
      panel.replaceChildren();
      resolve(value);
    };
    panel.replaceChildren(h('p', {}, t('scan.aim')), video, canvas, action(t('scan.cancel'), () => stop(null), { class: 'scan-cancel' }));
    const detector = 'BarcodeDetector' in globalThis ? new globalThis.BarcodeDetector({ formats: ['qr_code'] }) : null;
    const look = async () => {
      if (!video.videoWidth) return;
      if (detector) {
        const [code] = await detector.detect(video).catch(() => []);
        if (code?.rawValue) stop(code.rawValue);
        return;
      }
      const scale = Math.min(1, MAX_WIDTH / video.videoWidth);
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      const context = canvas.getContext('2d', { willReadFrequently: true });
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      const code = jsQR(image.data, image.width, image.height, { inversionAttempts: 'dontInvert' });
      if (code?.data) stop(code.data);
    };
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: 'environment' }, audio: false })
      .then(async (s) => {
        stream = s;
        video.srcObject = s;
        await video.play();
        timer = setInterval(look, EVERY_MS);
      })
      .catch((e) => {
        panel.replaceChildren();
        reject(e);
      });
  });
}

/** A Scan button that fills `input` with the QR code the camera reads. */
export function scanButton(input) {
  const panel = h('div', { class: 'scan' });
  const note = h('p', { class: 'field-error', role: 'alert' });
  const button = action(t('scan.button'), async () => {
    note.replaceChildren();
    if (!navigator.mediaDevices?.getUserMedia) return note.replaceChildren(t('scan.no_camera'));
    try {
      const text = await scanOnce(panel);
      if (text !== null) {
        input.value = text.trim();
        input.dispatchEvent(new Event('input'));
      }
    } catch {
      note.replaceChildren(t('scan.no_camera'));
    }
  }, { class: 'scan-button' });
  return h('div', {}, button, panel, note);
}
