//! Views as files: CSV for spreadsheets and auditors, and a member's statement as a print-ready
//! A4 HTML page in her language.

use kaban_protocol::money::Money;
use std::fmt::Write as _;

mod tables;

pub use tables::{DASHBOARD, balances, impact, portfolio, statement, transfers};

/// A table bound for CSV (RFC 4180: comma-separated, CRLF line ends, fields with a comma, quote
/// or line break quoted, quotes doubled).
pub struct Csv {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

/// One column of a CSV table: its header and the cell it takes from a row of type `R`. A table
/// is a list of these, so its headers and its cells cannot drift apart.
pub struct Column<R> {
    header: &'static str,
    value: fn(&R) -> String,
}

impl<R> Column<R> {
    pub const fn new(header: &'static str, value: fn(&R) -> String) -> Column<R> {
        Column { header, value }
    }
}

impl Csv {
    /// The table of `rows` under `columns`: a cell per column, in the columns' order.
    pub fn table<R>(columns: &[Column<R>], rows: &[R]) -> Csv {
        Csv {
            header: columns.iter().map(|c| c.header).collect(),
            rows: rows
                .iter()
                .map(|row| columns.iter().map(|c| (c.value)(row)).collect())
                .collect(),
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
            let cells: Vec<String> = cells.map(cell).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        };
        line(&mut out, &mut self.header.iter().copied());
        for row in &self.rows {
            line(&mut out, &mut row.iter().map(String::as_str));
        }
        out
    }
}

/// One CSV field. Text that a spreadsheet would run as a formula (`=`, `+`, `@`, or `-` not
/// followed by a number) is prefixed with `'`, so an exported book cannot carry a formula into
/// the treasurer's spreadsheet.
fn cell(text: &str) -> String {
    let numeric = text.parse::<f64>().is_ok();
    let formula = !numeric
        && text
            .chars()
            .next()
            .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    let text = if formula {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// Money as a plain decimal for a spreadsheet cell ("1250.50"); the currency has its own column.
pub fn amount(m: Money) -> String {
    m.major_text()
}

/// A UTC date "YYYY-MM-DD" from milliseconds since the Unix epoch.
pub fn date(time_ms: u64) -> String {
    // Howard Hinnant's civil_from_days.
    let days = (time_ms / 86_400_000) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Languages a printed statement comes in.
pub const LANGUAGES: [&str; 5] = ["en", "fil", "id", "bn", "th"];

/// The words of a printed statement in one language.
pub struct Words {
    pub lang: &'static str,
    pub title: &'static str,
    pub group: &'static str,
    pub member: &'static str,
    pub period: &'static str,
    pub whole_book: &'static str,
    pub balance: &'static str,
    pub stake: &'static str,
    pub of_group: &'static str,
    pub returns: &'static str,
    pub enterprises: &'static str,
    pub enterprise: &'static str,
    pub share: &'static str,
    pub entries: &'static str,
    pub date: &'static str,
    pub what: &'static str,
    pub amount: &'static str,
    pub after: &'static str,
    pub status: &'static str,
    pub record: &'static str,
    pub officers: &'static str,
    pub key: &'static str,
    pub role: &'static str,
    pub pending: &'static str,
    pub reversed: &'static str,
    pub counted: &'static str,
    pub left: &'static str,
    pub footer: &'static str,
    pub printed: &'static str,
    pub kinds: [(&'static str, &'static str); 4],
    /// Treasurer, chair, secretary, key holder, investor.
    pub roles: [&'static str; 5],
}

pub fn words(lang: &str) -> Option<&'static Words> {
    WORDS.iter().find(|w| w.lang == lang)
}

impl Words {
    pub fn role(&self, role: kaban_protocol::kind::Role) -> &'static str {
        use kaban_protocol::kind::Role;
        let i = match role {
            Role::Treasurer => 0,
            Role::Chair => 1,
            Role::Secretary => 2,
            Role::KeyHolder => 3,
            Role::Investor => 4,
        };
        self.roles[i]
    }

    pub fn kind(&self, kind: &str) -> String {
        self.kinds
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or_else(|| kind.replace('_', " "), |(_, w)| (*w).to_owned())
    }
}

static WORDS: [Words; 5] = [
    Words {
        lang: "en",
        title: "Member statement",
        group: "Group",
        member: "Member",
        period: "Period",
        whole_book: "since the book began",
        balance: "Balance",
        stake: "Stake",
        of_group: "of the group's",
        returns: "Returns received",
        enterprises: "Her share of the group's investments",
        enterprise: "Enterprise",
        share: "Share",
        entries: "Entries",
        date: "Date",
        what: "What",
        amount: "Amount",
        after: "Balance after",
        status: "Status",
        record: "Record",
        officers: "Officers of the group",
        key: "Signer key",
        role: "Role",
        pending: "awaiting approval",
        reversed: "reversed",
        counted: "counted",
        left: "Left the group",
        footer: "Every entry is a record signed by an officer. Anyone holding the book can check each record id and signature.",
        printed: "Printed",
        kinds: [
            ("contribution", "Contribution"),
            ("withdrawal", "Withdrawal"),
            ("distribution", "Share of a return"),
            ("departure", "Departure"),
        ],
        roles: [
            "Treasurer",
            "Chair",
            "Secretary",
            "Key holder",
            "Investor officer",
        ],
    },
    Words {
        lang: "fil",
        title: "Pahayag ng miyembro",
        group: "Grupo",
        member: "Miyembro",
        period: "Panahon",
        whole_book: "mula nang magsimula ang aklat",
        balance: "Balanse",
        stake: "Bahagi sa ipon",
        of_group: "ng kabuuan ng grupo na",
        returns: "Kitang natanggap",
        enterprises: "Ang bahagi niya sa mga puhunan ng grupo",
        enterprise: "Negosyo",
        share: "Bahagi",
        entries: "Mga tala",
        date: "Petsa",
        what: "Uri",
        amount: "Halaga",
        after: "Balanse pagkatapos",
        status: "Katayuan",
        record: "Tala",
        officers: "Mga opisyal ng grupo",
        key: "Susi ng lumagda",
        role: "Tungkulin",
        pending: "naghihintay ng pag-apruba",
        reversed: "binawi",
        counted: "bilang na",
        left: "Umalis sa grupo",
        footer: "Bawat tala ay nilagdaan ng isang opisyal. Sinumang may hawak ng aklat ay maaaring suriin ang bawat tala at lagda.",
        printed: "Inilimbag",
        kinds: [
            ("contribution", "Hulog"),
            ("withdrawal", "Pag-withdraw"),
            ("distribution", "Bahagi sa kita"),
            ("departure", "Pag-alis"),
        ],
        roles: [
            "Ingat-yaman",
            "Tagapangulo",
            "Kalihim",
            "May-hawak ng susi",
            "Opisyal ng namumuhunan",
        ],
    },
    Words {
        lang: "id",
        title: "Laporan anggota",
        group: "Kelompok",
        member: "Anggota",
        period: "Periode",
        whole_book: "sejak buku dimulai",
        balance: "Saldo",
        stake: "Porsi",
        of_group: "dari porsi kelompok",
        returns: "Hasil yang diterima",
        enterprises: "Bagiannya dalam investasi kelompok",
        enterprise: "Usaha",
        share: "Bagian",
        entries: "Catatan",
        date: "Tanggal",
        what: "Jenis",
        amount: "Jumlah",
        after: "Saldo sesudah",
        status: "Status",
        record: "Catatan",
        officers: "Pengurus kelompok",
        key: "Kunci penanda tangan",
        role: "Peran",
        pending: "menunggu persetujuan",
        reversed: "dibatalkan",
        counted: "dihitung",
        left: "Keluar dari kelompok",
        footer: "Setiap catatan ditandatangani oleh seorang pengurus. Siapa pun yang memegang buku dapat memeriksa setiap catatan dan tanda tangannya.",
        printed: "Dicetak",
        kinds: [
            ("contribution", "Setoran"),
            ("withdrawal", "Penarikan"),
            ("distribution", "Bagian hasil"),
            ("departure", "Keluar"),
        ],
        roles: [
            "Bendahara",
            "Ketua",
            "Sekretaris",
            "Pemegang kunci",
            "Pengurus investor",
        ],
    },
    Words {
        lang: "bn",
        title: "সদস্যের বিবরণী",
        group: "দল",
        member: "সদস্য",
        period: "সময়কাল",
        whole_book: "খাতা শুরু থেকে",
        balance: "স্থিতি",
        stake: "অংশ",
        of_group: "দলের মোট অংশের",
        returns: "প্রাপ্ত মুনাফা",
        enterprises: "দলের বিনিয়োগে তাঁর অংশ",
        enterprise: "উদ্যোগ",
        share: "অংশ",
        entries: "লেনদেন",
        date: "তারিখ",
        what: "ধরন",
        amount: "পরিমাণ",
        after: "পরের স্থিতি",
        status: "অবস্থা",
        record: "রেকর্ড",
        officers: "দলের কর্মকর্তা",
        key: "স্বাক্ষরকারীর চাবি",
        role: "ভূমিকা",
        pending: "অনুমোদনের অপেক্ষায়",
        reversed: "বাতিল",
        counted: "গণ্য",
        left: "দল ছেড়েছেন",
        footer: "প্রতিটি লেনদেন একজন কর্মকর্তার স্বাক্ষরিত রেকর্ড। খাতা যাঁর কাছে আছে তিনি প্রতিটি রেকর্ড ও স্বাক্ষর যাচাই করতে পারেন।",
        printed: "মুদ্রিত",
        kinds: [
            ("contribution", "জমা"),
            ("withdrawal", "উত্তোলন"),
            ("distribution", "মুনাফার অংশ"),
            ("departure", "প্রস্থান"),
        ],
        roles: ["কোষাধ্যক্ষ", "সভাপতি", "সম্পাদক", "চাবিধারী", "বিনিয়োগকারী কর্মকর্তা"],
    },
    Words {
        lang: "th",
        title: "รายการบัญชีของสมาชิก",
        group: "กลุ่ม",
        member: "สมาชิก",
        period: "ช่วงเวลา",
        whole_book: "ตั้งแต่เริ่มสมุดบัญชี",
        balance: "ยอดคงเหลือ",
        stake: "ส่วนถือ",
        of_group: "จากส่วนถือทั้งหมดของกลุ่ม",
        returns: "ผลตอบแทนที่ได้รับ",
        enterprises: "ส่วนของเธอในการลงทุนของกลุ่ม",
        enterprise: "กิจการ",
        share: "ส่วนแบ่ง",
        entries: "รายการ",
        date: "วันที่",
        what: "ประเภท",
        amount: "จำนวนเงิน",
        after: "ยอดหลังรายการ",
        status: "สถานะ",
        record: "บันทึก",
        officers: "กรรมการของกลุ่ม",
        key: "กุญแจผู้ลงนาม",
        role: "หน้าที่",
        pending: "รอการอนุมัติ",
        reversed: "ยกเลิกแล้ว",
        counted: "นับแล้ว",
        left: "ออกจากกลุ่มแล้ว",
        footer: "ทุกรายการเป็นบันทึกที่กรรมการคนหนึ่งลงนาม ผู้ที่ถือสมุดบัญชีตรวจสอบเลขบันทึกและลายเซ็นได้ทุกรายการ",
        printed: "พิมพ์เมื่อ",
        kinds: [
            ("contribution", "เงินออม"),
            ("withdrawal", "การถอนเงิน"),
            ("distribution", "ส่วนแบ่งผลตอบแทน"),
            ("departure", "การออกจากกลุ่ม"),
        ],
        roles: ["เหรัญญิก", "ประธาน", "เลขานุการ", "ผู้ถือกุญแจ", "กรรมการฝ่ายผู้ลงทุน"],
    },
];

/// Escapes text for HTML.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What a printed statement shows.
pub struct Printable<'a> {
    pub words: &'static Words,
    pub group: &'a str,
    pub book: &'a str,
    pub period: String,
    pub position: &'a kaban_protocol::portfolio::Position,
    pub entries: &'a [kaban_protocol::view::Entry],
    pub officers: &'a [kaban_protocol::view::Officer],
    pub printed_ms: u64,
}

/// A member's statement as one self-contained HTML page (no scripts, no fonts or images from
/// anywhere) whose print preview is a clean A4 page: 18 mm margins, a table that breaks
/// between rows and repeats its header.
pub fn statement_html(p: &Printable<'_>) -> String {
    let w = p.words;
    let mut h = String::new();
    page_head(&mut h, p);
    summary(&mut h, p);
    shares(&mut h, w, &p.position.enterprises);
    entries(&mut h, w, p.entries);
    officers(&mut h, w, p.officers);
    let _ = write!(
        h,
        "<footer><p>{}</p><p>{} {}</p></footer>\n</body></html>\n",
        esc(w.footer),
        w.printed,
        date(p.printed_ms)
    );
    h
}

/// The page's style: A4 with 18 mm margins, amounts aligned in columns, and table rows that
/// never split across pages.
const STYLE: &str = r#"@page { size: A4; margin: 18mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans", "Noto Sans Bengali", "DejaVu Sans", sans-serif; font-size: 10.5pt;
  color: #000; background: #fff; margin: 0 auto; max-width: 174mm; line-height: 1.35; }
h1 { font-size: 16pt; margin: 0 0 2mm; }
h2 { font-size: 11.5pt; margin: 6mm 0 2mm; border-bottom: 0.4mm solid #000; }
dl { display: grid; grid-template-columns: 42mm 1fr; gap: 1mm 4mm; margin: 0; }
dt { font-weight: bold; } dd { margin: 0; }
table { width: 100%; border-collapse: collapse; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; break-inside: avoid; }
th, td { text-align: left; padding: 1mm 1.5mm; border-bottom: 0.2mm solid #888; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.d { white-space: nowrap; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 7.5pt; word-break: break-all; }
footer { margin-top: 6mm; font-size: 8.5pt; }
"#;

/// The document head, titled so that a saved or printed file says whose statement it is.
fn page_head(h: &mut String, p: &Printable<'_>) {
    let _ = write!(
        h,
        r#"<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {alias} · {group}</title>
<style>
{STYLE}</style></head><body>
"#,
        lang = p.words.lang,
        title = esc(p.words.title),
        alias = esc(&p.position.alias),
        group = esc(p.group),
    );
}

/// The title and who and what the statement is about: group, member, period, and her money.
fn summary(h: &mut String, p: &Printable<'_>) {
    let (w, pos) = (p.words, p.position);
    let _ = write!(
        h,
        r#"<h1>{title}</h1>
<dl>
<dt>{l_group}</dt><dd>{group} <code>{book}</code></dd>
<dt>{l_member}</dt><dd>{alias} ({member})</dd>
<dt>{l_period}</dt><dd>{period}</dd>
<dt>{l_balance}</dt><dd>{balance}</dd>
<dt>{l_stake}</dt><dd>{stake} ({l_of_group} {group_stake})</dd>
<dt>{l_returns}</dt><dd>{returns}</dd>
"#,
        title = esc(w.title),
        alias = esc(&pos.alias),
        member = esc(&pos.member),
        group = esc(p.group),
        book = esc(p.book),
        period = esc(&p.period),
        balance = pos.balance,
        stake = pos.stake,
        group_stake = pos.group_stake,
        returns = pos.returns_received,
        l_group = w.group,
        l_member = w.member,
        l_period = w.period,
        l_balance = w.balance,
        l_stake = w.stake,
        l_of_group = w.of_group,
        l_returns = w.returns,
    );
    if let Some(d) = &pos.departure {
        let _ = writeln!(
            h,
            "<dt>{}</dt><dd>{} · {}</dd>",
            w.left,
            date(d.time_ms),
            d.departure.amount
        );
    }
    h.push_str("</dl>\n");
}

/// Her share of each enterprise the group invests in; nothing when it invests in none.
fn shares(h: &mut String, w: &Words, enterprises: &[kaban_protocol::portfolio::EnterpriseShare]) {
    if enterprises.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<h2>{}</h2>\n<table><thead><tr><th>{}</th><th class=\"n\">{}</th></tr></thead><tbody>",
        w.enterprises, w.enterprise, w.share
    );
    for e in enterprises {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(&e.name),
            e.share
        );
    }
    h.push_str("</tbody></table>\n");
}

/// Her entries, each with the start of its record id so she can find the signed record.
fn entries(h: &mut String, w: &Words, entries: &[kaban_protocol::view::Entry]) {
    use kaban_protocol::view::Status;
    let _ = writeln!(
        h,
        "<h2>{}</h2>\n<table><thead><tr><th>{}</th><th>{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        w.entries, w.date, w.what, w.amount, w.after, w.status, w.record
    );
    for e in entries {
        let status = match e.status {
            Status::Effective => w.counted,
            Status::Pending { .. } => w.pending,
            Status::Reversed { .. } => w.reversed,
        };
        let id = e.record.to_string();
        let _ = writeln!(
            h,
            "<tr><td class=\"d\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td><code>{}</code></td></tr>",
            date(e.time_ms),
            esc(&w.kind(&e.kind)),
            e.amount,
            e.balance_after,
            status,
            &id[..12]
        );
    }
    h.push_str("</tbody></table>\n");
}

/// The group's officers and their keys, against which anyone can check the entries' signatures.
fn officers(h: &mut String, w: &Words, officers: &[kaban_protocol::view::Officer]) {
    let _ = writeln!(
        h,
        "<h2>{}</h2>\n<table><thead><tr><th>{}</th><th>{}</th></tr></thead><tbody>",
        w.officers, w.role, w.key
    );
    for o in officers {
        let roles: Vec<&str> = o.roles.iter().map(|r| w.role(*r)).collect();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td></tr>",
            roles.join(", "),
            o.key
        );
    }
    h.push_str("</tbody></table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let columns = [
            Column::new("a", |r: &[&str; 3]| r[0].to_owned()),
            Column::new("b", |r| r[1].to_owned()),
            Column::new("c", |r| r[2].to_owned()),
        ];
        let rows = [
            ["x,y", "say \"hi\"", "=HYPERLINK(1)"],
            ["-12.50", "-x", "plain"],
        ];
        assert_eq!(
            Csv::table(&columns, &rows).render(),
            "a,b,c\r\n\"x,y\",\"say \"\"hi\"\"\",'=HYPERLINK(1)\r\n-12.50,'-x,plain\r\n"
        );
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400_000), "2000-02-29");
        assert_eq!(date(1_795_824_000_000), "2026-11-28");
    }

    #[test]
    fn every_language_names_every_kind_a_statement_shows() {
        for lang in LANGUAGES {
            let w = words(lang).unwrap();
            for kind in ["contribution", "withdrawal", "distribution", "departure"] {
                assert_ne!(w.kind(kind), kind.replace('_', " "), "{lang} {kind}");
            }
        }
    }
}
