//! The six shipped publications and a realistic edition of each, in each language, for the
//! render and screenshot tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use tidings::config::{Approval, PublicationConfig};
use tidings::publications::render::{EditionView, ItemView, SectionView, UNSUBSCRIBE_PLACEHOLDER};

pub fn templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")
}

/// Name, title, languages: as the shipped configuration declares them.
pub const PUBLICATIONS: [(&str, &str, &[&str]); 6] = [
    ("bulletin", "The Bulletin", &["en", "fr", "es"]),
    ("monitor", "The Monitor", &["en", "fr", "es"]),
    ("mena-update", "نشرة الشرق الأوسط وشمال أفريقيا", &["ar"]),
    ("europe-update", "Europe Update", &["en"]),
    ("africa-update", "Africa Update", &["en", "fr"]),
    ("asia-update", "Asia Update", &["en"]),
];

pub fn publications() -> Vec<PublicationConfig> {
    PUBLICATIONS
        .iter()
        .map(|(name, title, languages)| PublicationConfig {
            name: (*name).into(),
            title: (*title).into(),
            description: String::new(),
            languages: languages.iter().map(|l| (*l).into()).collect(),
            fallback_language: languages[0].into(),
            schedule: "0 0 9 1 1,7 *".into(),
            time_zone: "Europe/Amsterdam".into(),
            approval: Approval::Manual,
            editors: vec!["editors@example.org".into()],
            sections: Vec::new(),
            templates: String::new(),
        })
        .collect()
}

/// 1 March 2027, 09:00 in Amsterdam.
pub const DATE_MS: i64 = 1_803_888_000_000;

fn item(key: &str, title: &str, body: &str) -> ItemView {
    ItemView {
        title: title.into(),
        body_markdown: body.into(),
        translation_key: key.into(),
    }
}

fn section(title: &str, items: Vec<ItemView>) -> SectionView {
    SectionView {
        title: title.into(),
        items,
    }
}

/// An edition of `publication` in `lang` with three sections of real-looking items.
pub fn edition(publication: &str, lang: &str) -> EditionView {
    let (_, title, _) = PUBLICATIONS
        .iter()
        .find(|(name, _, _)| *name == publication)
        .expect("a shipped publication");
    EditionView {
        publication: publication.into(),
        title: (*title).into(),
        lang: lang.into(),
        number: 12,
        date_ms: DATE_MS,
        time_zone: "Europe/Amsterdam".into(),
        sections: sections(lang),
        web_url: format!("https://lists.example.org/p/{publication}/12/{lang}"),
        unsubscribe_url: UNSUBSCRIBE_PLACEHOLDER.into(),
    }
}

fn sections(lang: &str) -> Vec<SectionView> {
    match lang {
        "fr" => vec![
            section("Plaidoyer", vec![
                item("hrc-statement", "Déclaration commune au Conseil des droits de l'homme",
                     "Quarante-deux organisations membres ont signé la **déclaration commune** lue le 4 mars \
                      lors du débat général. Elle demande la protection des défenseurs et défenseuses \
                      des droits humains en ligne.\n\nLire la [déclaration complète](https://example.org/fr/declaration) \
                      et la [liste des signataires](https://example.org/fr/signataires)."),
                item("budget", "Le budget 2027 adopté", "L'assemblée générale a adopté le budget 2027 :\n\n\
                      - 38 % pour les programmes régionaux ;\n- 27 % pour le plaidoyer ;\n- 35 % pour le secrétariat.")]),
            section("Vie du réseau", vec![
                item("welcome", "Bienvenue aux nouveaux membres",
                     "Onze organisations ont rejoint la coalition ce trimestre, dont six en Afrique de l'Ouest.\n\n\
                      > « Rejoindre la coalition nous donne une voix à Genève. » — une nouvelle membre de Dakar")]),
            section("Agenda", vec![
                item("webinar", "Webinaire : sécurité numérique des militant·e·s",
                     "Le 18 mars à 14 h (heure de Paris). Inscription : <https://example.org/fr/webinaire>.")]),
        ],
        "es" => vec![
            section("Incidencia", vec![
                item("hrc-statement", "Declaración conjunta ante el Consejo de Derechos Humanos",
                     "Cuarenta y dos organizaciones miembro firmaron la **declaración conjunta** leída el 4 de marzo \
                      durante el debate general. Pide la protección de las personas defensoras de derechos \
                      humanos en línea.\n\nLea la [declaración completa](https://example.org/es/declaracion) \
                      y la [lista de firmantes](https://example.org/es/firmantes)."),
                item("budget", "Aprobado el presupuesto 2027", "La asamblea general aprobó el presupuesto 2027:\n\n\
                      - 38 % para los programas regionales;\n- 27 % para incidencia;\n- 35 % para el secretariado.")]),
            section("La red", vec![
                item("welcome", "Bienvenida a los nuevos miembros",
                     "Once organizaciones se unieron a la coalición este trimestre, seis de ellas en África Occidental.\n\n\
                      > «Unirnos a la coalición nos da voz en Ginebra.» — una nueva miembro de Dakar")]),
            section("Agenda", vec![
                item("webinar", "Seminario web: seguridad digital para activistas",
                     "El 18 de marzo a las 14:00 (hora de Madrid). Inscripción: <https://example.org/es/seminario>.")]),
        ],
        "ar" => vec![
            section("المناصرة", vec![
                item("hrc-statement", "بيان مشترك أمام مجلس حقوق الإنسان",
                     "وقّعت اثنتان وأربعون منظمة عضوًا على **البيان المشترك** الذي أُلقي في ٤ مارس خلال \
                      المناقشة العامة. ويطالب البيان بحماية المدافعين والمدافعات عن حقوق الإنسان على الإنترنت.\n\n\
                      اقرأ [النص الكامل للبيان](https://example.org/ar/statement) و[قائمة الموقّعين](https://example.org/ar/signatories)."),
                item("budget", "اعتماد ميزانية ٢٠٢٧", "اعتمدت الجمعية العامة ميزانية عام ٢٠٢٧:\n\n\
                      - ٣٨٪ للبرامج الإقليمية؛\n- ٢٧٪ للمناصرة؛\n- ٣٥٪ للأمانة العامة.")]),
            section("أخبار الشبكة", vec![
                item("welcome", "مرحبًا بالأعضاء الجدد",
                     "انضمت إحدى عشرة منظمة إلى التحالف هذا الفصل، منها ثلاث في المغرب العربي.\n\n\
                      > «الانضمام إلى التحالف يمنحنا صوتًا في جنيف.» — عضو جديد من تونس")]),
            section("مواعيد", vec![
                item("webinar", "ندوة عبر الإنترنت: الأمان الرقمي للناشطين",
                     "يوم ١٨ مارس الساعة ٢ ظهرًا بتوقيت بيروت. التسجيل: <https://example.org/ar/webinar>.")]),
        ],
        _ => vec![
            section("Advocacy", vec![
                item("hrc-statement", "Joint statement to the Human Rights Council",
                     "Forty-two member organisations signed the **joint statement** read on 4 March during the \
                      general debate. It calls for the protection of human rights defenders online.\n\n\
                      Read the [full statement](https://example.org/en/statement) and the \
                      [list of signatories](https://example.org/en/signatories)."),
                item("budget", "The 2027 budget is adopted", "The general assembly adopted the 2027 budget:\n\n\
                      - 38% for the regional programmes;\n- 27% for advocacy;\n- 35% for the secretariat.")]),
            section("Around the network", vec![
                item("welcome", "Welcome to our new members",
                     "Eleven organisations joined the coalition this quarter, six of them in West Africa.\n\n\
                      > \"Joining the coalition gives us a voice in Geneva.\" — a new member from Dakar")]),
            section("Coming up", vec![
                item("webinar", "Webinar: digital security for activists",
                     "18 March at 14:00 CET. Register at <https://example.org/en/webinar>.")]),
        ],
    }
}
