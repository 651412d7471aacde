//! The six message catalogues (Fluent, compiled in) and how a request's language is chosen:
//! an explicit `?lang=` (remembered in a cookie), then the `lang` cookie, then
//! `Accept-Language`, then Czech.

use std::collections::HashMap;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use prepazka_models::locale::Locale;

pub const LANG_COOKIE: &str = "lang";

const SOURCES: [(Locale, &str); 6] = [
    (Locale::Cs, include_str!("../i18n/cs.ftl")),
    (Locale::En, include_str!("../i18n/en.ftl")),
    (Locale::Uk, include_str!("../i18n/uk.ftl")),
    (Locale::Ru, include_str!("../i18n/ru.ftl")),
    (Locale::Vi, include_str!("../i18n/vi.ftl")),
    (Locale::Mn, include_str!("../i18n/mn.ftl")),
];

pub struct Catalog {
    bundles: HashMap<Locale, FluentBundle<FluentResource>>,
}

impl Catalog {
    /// Parses the compiled-in catalogues. A syntax error is a build defect: the i18n tests
    /// catch it, and here it makes start-up fail loudly.
    pub fn load() -> Result<Self, String> {
        let mut bundles = HashMap::new();
        for (locale, source) in SOURCES {
            let resource = FluentResource::try_new(source.to_owned()).map_err(|(_, errors)| format!("{locale}.ftl: {errors:?}"))?;
            let langid = locale.code().parse().map_err(|_| format!("language id {locale}"))?;
            let mut bundle = FluentBundle::new_concurrent(vec![langid]);
            // Unicode isolation marks around placeables confuse e-mail clients and tests alike.
            bundle.set_use_isolating(false);
            bundle.add_resource(resource).map_err(|errors| format!("{locale}.ftl: {errors:?}"))?;
            bundles.insert(locale, bundle);
        }
        Ok(Self { bundles })
    }

    /// The message `key` in `locale`, with `args`; falls back to English, then to the key.
    pub fn text(&self, locale: Locale, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        for candidate in [locale, Locale::En] {
            let Some(bundle) = self.bundles.get(&candidate) else { continue };
            let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else { continue };
            let mut fluent_args = FluentArgs::new();
            for (name, value) in args {
                fluent_args.set(*name, value.clone());
            }
            let mut errors = Vec::new();
            return bundle.format_pattern(pattern, Some(&fluent_args), &mut errors).into_owned();
        }
        key.to_owned()
    }

    pub fn t(&self, locale: Locale, key: &str) -> String {
        self.text(locale, key, &[])
    }

    /// Every key of a catalogue, for the completeness tests.
    pub fn keys(source_locale: Locale) -> Vec<String> {
        let source = SOURCES.iter().find(|(l, _)| *l == source_locale).map_or("", |(_, s)| s);
        source
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with(' ') && l.contains(" = "))
            .filter_map(|l| l.split(" = ").next().map(str::to_owned))
            .collect()
    }

    pub fn source(locale: Locale) -> &'static str {
        SOURCES.iter().find(|(l, _)| *l == locale).map_or("", |(_, s)| s)
    }
}

/// The language of the current request.
#[derive(Debug, Clone, Copy)]
pub struct Lang(pub Locale);

impl Lang {
    pub fn of(req: &HttpRequest) -> Locale {
        let from_query = req.query_string().split('&').find_map(|pair| pair.strip_prefix("lang=")).and_then(|v| v.parse::<Locale>().ok());
        from_query
            .or_else(|| req.cookie(LANG_COOKIE).and_then(|c| c.value().parse().ok()))
            .or_else(|| {
                req.headers().get(actix_web::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(Locale::negotiate)
            })
            .unwrap_or(Locale::Cs)
    }
}

impl FromRequest for Lang {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Lang(Lang::of(req))))
    }
}
