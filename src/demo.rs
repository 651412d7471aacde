//! Demo data: the 21 offices that capture biometrics (5 Prague, 3 Central Bohemia, 2 Ústí
//! region, one in each other region), four branch offices without biometrics, and demo people
//! in the fake registry.

use chrono::NaiveDate;
use prepazka_actors::registry::{record, FakeRecord};
use prepazka_models::calendar::WeeklyHours;
use prepazka_models::ids::OfficeId;
use prepazka_models::office::{Office, OfficeService, Region};
use prepazka_models::registry::{RegistryPersonId, Relation};
use prepazka_models::service::{PermitKind, ServiceKind};

const OFFICES: &[(&str, &str, Region, &str, &str, bool)] = &[
    ("praha-chodov", "Praha I – Chodov", Region::Praha, "Praha 4", "Cigánkova 1861/2", true),
    ("praha-zizkov", "Praha II – Žižkov", Region::Praha, "Praha 3", "Koněvova 2660/141", true),
    ("praha-zbraslav", "Praha III – Zbraslav", Region::Praha, "Praha 5", "Žitavského 496", true),
    ("praha-vrsovice", "Praha IV – Vršovice", Region::Praha, "Praha 10", "Nad Vršovskou horou 88/4", true),
    ("praha-holesovice", "Praha V – Holešovice", Region::Praha, "Praha 7", "Argentinská 1621/36", true),
    ("kladno", "Kladno", Region::Stredocesky, "Kladno", "Petra Bezruče 2866", true),
    ("mlada-boleslav", "Mladá Boleslav", Region::Stredocesky, "Mladá Boleslav", "Bezdězská 1006", true),
    ("benesov", "Benešov", Region::Stredocesky, "Benešov", "Černoleská 2053", true),
    ("usti-nad-labem", "Ústí nad Labem", Region::Ustecky, "Ústí nad Labem", "Masarykova 27/1", true),
    ("chomutov", "Chomutov", Region::Ustecky, "Chomutov", "Jiráskova 4384", true),
    ("ceske-budejovice", "České Budějovice", Region::Jihocesky, "České Budějovice", "Dobrovodská 1731/57", true),
    ("plzen", "Plzeň", Region::Plzensky, "Plzeň", "Habrmannova 8", true),
    ("karlovy-vary", "Karlovy Vary", Region::Karlovarsky, "Karlovy Vary", "Závodní 386/100", true),
    ("liberec", "Liberec", Region::Liberecky, "Liberec", "Hrubínova 1410/3", true),
    ("hradec-kralove", "Hradec Králové", Region::Kralovehradecky, "Hradec Králové", "Tř. Karla IV. 1241", true),
    ("pardubice", "Pardubice", Region::Pardubicky, "Pardubice", "Teplého 2140", true),
    ("jihlava", "Jihlava", Region::Vysocina, "Jihlava", "Vrchlického 46", true),
    ("brno", "Brno", Region::Jihomoravsky, "Brno", "Cejl 62", true),
    ("olomouc", "Olomouc", Region::Olomoucky, "Olomouc", "Wolkerova 6", true),
    ("zlin", "Zlín", Region::Zlinsky, "Zlín", "Tř. Tomáše Bati 2671", true),
    ("ostrava", "Ostrava", Region::Moravskoslezsky, "Ostrava", "Nádražní 4", true),
    ("pribram", "Příbram (pobočka)", Region::Stredocesky, "Příbram", "Žežická 1006", false),
    ("tabor", "Tábor (pobočka)", Region::Jihocesky, "Tábor", "Budějovická 2656", false),
    ("teplice", "Teplice (pobočka)", Region::Ustecky, "Teplice", "Přítkovská 1689", false),
    ("frydek-mistek", "Frýdek-Místek (pobočka)", Region::Moravskoslezsky, "Frýdek-Místek", "Palackého 134", false),
];

pub fn offices() -> Vec<Office> {
    OFFICES
        .iter()
        .filter_map(|&(id, name, region, city, address, biometrics)| {
            let big = region == Region::Praha || id == "brno";
            let capacity = if big { 4 } else { 2 };
            let services = ServiceKind::ALL
                .iter()
                .filter(|s| biometrics || !s.needs_biometric_office())
                .map(|&service| OfficeService {
                    service,
                    slot_minutes: match service {
                        ServiceKind::CardPickup | ServiceKind::VisaSticker => 15,
                        ServiceKind::Interview => 45,
                        _ => 30,
                    },
                    capacity,
                })
                .collect();
            Some(Office {
                id: OfficeId::parse(id).ok()?,
                name: name.to_owned(),
                region,
                city: city.to_owned(),
                address: address.to_owned(),
                has_biometrics: biometrics,
                services,
                hours: WeeklyHours::typical_office(),
            })
        })
        .collect()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

/// Demo people, with the credentials `demo` prints.
pub fn people() -> Vec<FakeRecord> {
    let office = |id: &str| OfficeId::parse(id).ok();
    let mut people: Vec<FakeRecord> = [
        record(
            "ua-olena",
            "Olena Kovalenko",
            date(1988, 4, 12),
            Some((PermitKind::LongTermResidence, date(2027, 2, 10))),
            office("praha-zizkov"),
            Some(("UKR-2026-000123", "4821")),
            Some("FE123456"),
        ),
        record(
            "ua-taras",
            "Taras Kovalenko",
            date(1986, 9, 1),
            Some((PermitKind::LongTermResidence, date(2027, 2, 10))),
            office("praha-zizkov"),
            None,
            None,
        ),
        record(
            "ua-marko",
            "Marko Kovalenko",
            date(2015, 3, 5),
            Some((PermitKind::LongTermResidence, date(2027, 2, 10))),
            office("praha-zizkov"),
            None,
            None,
        ),
        record(
            "ua-sofia",
            "Sofiia Kovalenko",
            date(2019, 6, 21),
            Some((PermitKind::LongTermResidence, date(2027, 2, 10))),
            office("praha-zizkov"),
            None,
            None,
        ),
        record(
            "vn-an",
            "Nguyễn Văn An",
            date(1990, 7, 3),
            Some((PermitKind::EmployeeCard, date(2027, 8, 1))),
            office("brno"),
            None,
            Some("C1234567"),
        ),
        record(
            "mn-batbold",
            "Батболд Энхжаргал",
            date(1995, 2, 20),
            Some((PermitKind::EuBlueCard, date(2028, 1, 15))),
            None,
            Some(("MNG-2025-004711", "1357")),
            None,
        ),
        record(
            "ru-ivan",
            "Иван Петров",
            date(1979, 11, 30),
            Some((PermitKind::PermanentResidence, date(2031, 5, 5))),
            office("ostrava"),
            Some(("RUS-2019-777001", "2468")),
            Some("751234567"),
        ),
        record("en-john", "John Smith", date(1985, 1, 15), None, None, None, Some("533112233")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Some(olena) = people.iter_mut().find(|p| p.person.id.0 == "ua-olena") {
        olena.person.household = vec![
            (RegistryPersonId("ua-taras".into()), Relation::Spouse),
            (RegistryPersonId("ua-marko".into()), Relation::Child),
            (RegistryPersonId("ua-sofia".into()), Relation::Child),
        ];
    }
    people
}

/// What `demo` prints so a newcomer can book at once.
pub const CREDENTIALS: &str = "\
Demo people in the fake registry:
  Olena Kovalenko (uk)   registration UKR-2026-000123, PIN 4821 (household: spouse and two children; biometrics taken at Praha II – Žižkov)
  Nguyễn Văn An (vi)     travel document C1234567, born 1990-07-03, name NGUYEN VAN AN (biometrics taken in Brno)
  Батболд Энхжаргал (mn) registration MNG-2025-004711, PIN 1357
  Иван Петров (ru)       registration RUS-2019-777001, PIN 2468
  John Smith (en)        travel document 533112233, born 1985-01-15, name John Smith
  Synthetic population   registration POP-00000001 … with PINs from prepazka_actors::registry::population_pin";
