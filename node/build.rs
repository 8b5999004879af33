//! Embeds the web client's build output (`clients/web/dist`, committed) in the node binary, so
//! installing the node installs the client. Writes `$OUT_DIR/web_assets.rs`: one
//! `(path, content type, bytes, gzipped bytes)` entry per file, the gzipped copy made here at
//! the highest level, so a cheap phone on a slow link downloads a third of the bytes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dist = manifest.join("../clients/web/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut files = Vec::new();
    collect(&dist, &dist, &mut files);
    files.sort();
    assert!(
        files.iter().any(|(p, _)| p == "/index.html"),
        "clients/web/dist has no index.html; run `npm run build` in clients/web"
    );
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let mut out = String::from("pub static ASSETS: &[(&str, &str, &[u8], &[u8])] = &[\n");
    for (i, (path, file)) in files.iter().enumerate() {
        println!("cargo:rerun-if-changed={}", file.display());
        let gz = out_dir.join(format!("asset-{i}.gz"));
        std::fs::write(&gz, gzip(file)).expect("OUT_DIR is writable");
        let _ = writeln!(
            out,
            "    ({path:?}, {:?}, include_bytes!({:?}), include_bytes!({:?})),",
            content_type(path),
            file.canonicalize().expect("the file exists").display(),
            gz.display()
        );
    }
    out.push_str("];\n");
    std::fs::write(out_dir.join("web_assets.rs"), out).expect("OUT_DIR is writable");
}

fn gzip(file: &Path) -> Vec<u8> {
    use std::io::Write as _;
    let bytes = std::fs::read(file).expect("the file reads");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(root, &path, out);
        } else {
            let rel = path.strip_prefix(root).expect("under root");
            out.push((format!("/{}", rel.to_string_lossy()), path));
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}
