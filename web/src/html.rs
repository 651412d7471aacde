//! Page layout and escaping. Pages are rendered on the server and work without JavaScript;
//! every interpolated value goes through [`esc`].

use prepazka_models::locale::Locale;

use crate::error::catalog;

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
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

const STYLE: &str = r#"
:root{--ink:#1b1f24;--muted:#4a5560;--accent:#0b5cad;--bg:#f6f7f9;--card:#fff;--line:#d0d6dd;--bad:#a4161a}
*{box-sizing:border-box}body{margin:0;font:1.05rem/1.5 "Noto Sans",system-ui,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#11457e;color:#fff;padding:.75rem 1rem;display:flex;flex-wrap:wrap;gap:.75rem;align-items:center;justify-content:space-between}
header a{color:#fff}header .brand{font-weight:700;font-size:1.15rem;text-decoration:none}
nav.lang{display:flex;flex-wrap:wrap;gap:.5rem}nav.lang a{padding:.2rem .4rem;border-radius:.25rem}nav.lang a[aria-current]{background:#fff;color:#11457e}
main{max-width:46rem;margin:0 auto;padding:1rem}h1{font-size:1.5rem;line-height:1.25}
.card{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:1rem;margin:.75rem 0}
a{color:var(--accent)}label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input,select{font:inherit;padding:.6rem;border:1px solid #6b7785;border-radius:.35rem;width:100%;max-width:26rem}
input[type=radio],input[type=checkbox]{width:auto}button{font:inherit;font-weight:600;padding:.7rem 1.2rem;border:0;border-radius:.35rem;background:var(--accent);color:#fff;cursor:pointer;margin-top:1rem}
button.danger{background:var(--bad)}.slots{display:grid;grid-template-columns:repeat(auto-fill,minmax(7.5rem,1fr));gap:.5rem}
.slots button{margin:0;width:100%}.muted{color:var(--muted)}.error{border-color:var(--bad);color:var(--bad)}
.code{font:700 1.6rem/1.2 ui-monospace,monospace;letter-spacing:.08em}.qr svg{width:12rem;height:12rem}
footer{max-width:46rem;margin:2rem auto;padding:0 1rem;color:var(--muted);font-size:.9rem}
:focus-visible{outline:3px solid #f5a623;outline-offset:2px}.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;color:#000;padding:.5rem}
"#;

/// A whole page: header with language switcher, main content, footer.
pub fn page(locale: Locale, path: &str, title: &str, body: &str) -> String {
    let c = catalog();
    let t = |key: &str| esc(&c.t(locale, key));
    let base = path.split('?').next().unwrap_or("/");
    let switcher: String = Locale::ALL
        .iter()
        .map(|l| {
            let current = if *l == locale { r#" aria-current="true""# } else { "" };
            format!(
                r#"<a href="{}?lang={}" lang="{}" hreflang="{}"{current}>{}</a>"#,
                esc(base),
                l.code(),
                l.code(),
                l.code(),
                esc(l.endonym())
            )
        })
        .collect();
    format!(
        r##"<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title} · {site}</title><style>{STYLE}</style></head><body>
<a class="skip" href="#main">{skip}</a>
<header><a class="brand" href="/">{site}</a><nav class="lang" aria-label="{lang_label}">{switcher}</nav>
<a href="/manage">{manage}</a></header>
<main id="main"><h1>{title}</h1>{body}</main>
<footer>{footer}</footer></body></html>"##,
        lang = locale.code(),
        title = esc(title),
        site = t("site-title"),
        skip = t("skip-to-content"),
        lang_label = t("language-label"),
        manage = t("nav-manage"),
        footer = t("footer-privacy"),
    )
}

pub fn error_page(locale: Locale, message: &str) -> String {
    let title = catalog().t(locale, "error-title");
    let back = esc(&catalog().t(locale, "back"));
    page(
        locale,
        "/",
        &title,
        &format!(
            r#"<div class="card error" role="alert"><p>{}</p></div><p><a href="javascript:history.back()">{back}</a> · <a href="/">{}</a></p>"#,
            esc(message),
            esc(&catalog().t(locale, "nav-book"))
        ),
    )
}
