//! One edition of each publication opened in a real browser (Debian's headless chromium),
//! in light and dark mode. Fails on a template error or a page that comes out blank; the
//! screenshots, HTML and text parts are kept in `target/screenshots/` for a person to look
//! at. Without chromium the test says plainly that it was skipped, except in CI (`CI` set),
//! where `.ci/run` installs it and its absence is a failure.

use crate::common::publication_fixtures;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use publication_fixtures::{edition, publications, templates_dir, PUBLICATIONS};
use tidings::publications::render::PublicationTemplates;

const BROWSER: &str = "chromium";
/// Generous: a cold start of chromium on a busy 2-core machine takes a few seconds.
const TIMEOUT: Duration = Duration::from_secs(90);
const WIDTH: u32 = 800;
const HEIGHT: u32 = 1400;

fn browser_available() -> bool {
    Command::new(BROWSER)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `target/screenshots/`, next to cargo's own directories.
fn output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("target/screenshots");
    dir
}

/// Runs chromium once, bounded by [`TIMEOUT`]; its own profile directory keeps parallel
/// or leftover runs from interfering.
fn screenshot(page: &Path, png: &Path, dark: bool, profile: &Path) {
    let _ = std::fs::remove_file(png);
    let mut command = Command::new(BROWSER);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(["--no-first-run", "--disable-extensions"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={WIDTH},{HEIGHT}"))
        .arg(format!("--screenshot={}", png.display()));
    if dark {
        command.arg("--force-dark-mode");
    }
    let mut child = command
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("chromium runs") {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium took more than {TIMEOUT:?} on {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if !status.success() || !png.exists() {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        panic!("chromium failed on {} ({status}): {stderr}", page.display());
    }
}

/// The share of pixels that differ from the page background (the top-left pixel), and the
/// share of pixels that contrast strongly with it (text).
fn ink(png: &Path) -> (f64, f64) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png).expect("the screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buffer = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buffer).expect("a frame");
    let channels = info.color_type.samples();
    assert!(
        channels >= 3,
        "colour screenshot, got {:?}",
        info.color_type
    );
    let pixels: Vec<[u8; 3]> = buffer[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    let luma = |p: &[u8; 3]| (p[0] as i32 * 3 + p[1] as i32 * 6 + p[2] as i32) / 10;
    let background = pixels[0];
    let distance = |p: &[u8; 3]| {
        p.iter()
            .zip(background)
            .map(|(a, b)| (*a as i32 - b as i32).abs())
            .max()
            .unwrap_or(0)
    };
    let different = pixels.iter().filter(|p| distance(p) > 12).count();
    let contrasting = pixels
        .iter()
        .filter(|p| (luma(p) - luma(&background)).abs() > 100)
        .count();
    let total = pixels.len() as f64;
    (different as f64 / total, contrasting as f64 / total)
}

#[test]
fn every_publication_renders_in_a_browser() {
    if !browser_available() {
        if std::env::var_os("CI").is_some() {
            panic!("{BROWSER} is not installed; .ci/run installs it (apt-get install chromium)");
        }
        eprintln!("SKIPPED screenshots: {BROWSER} is not installed (apt-get install chromium)");
        return;
    }
    let templates = PublicationTemplates::load(&templates_dir(), &publications())
        .expect("shipped templates load");
    let pages = tempfile::tempdir().expect("a temporary directory");
    let out = output_dir();
    for (name, _, languages) in PUBLICATIONS {
        let lang = languages[0];
        let rendered = templates
            .render(&edition(name, lang))
            .unwrap_or_else(|e| panic!("{name}/{lang}: {e}"));
        let page = pages.path().join(format!("{name}-{lang}.html"));
        std::fs::write(&page, &rendered.html).expect("the page");
        std::fs::write(out.join(format!("{name}-{lang}.html")), &rendered.html).expect("a copy");
        std::fs::write(out.join(format!("{name}-{lang}.txt")), &rendered.text).expect("a copy");

        for dark in [false, true] {
            let mode = if dark { "dark" } else { "light" };
            let png = out.join(format!("{name}-{lang}-{mode}.png"));
            screenshot(&page, &png, dark, &pages.path().join("profile"));
            let (different, contrasting) = ink(&png);
            eprintln!(
                "{}: {:.0}% of the page drawn, {:.1}% text-dark",
                png.display(),
                different * 100.0,
                contrasting * 100.0
            );
            assert!(
                different > 0.25,
                "{name} ({mode}) looks blank: {}",
                png.display()
            );
            assert!(
                contrasting > 0.01,
                "{name} ({mode}) shows no text: {}",
                png.display()
            );
        }
    }
}

/// A member's own page in the web console with the choice of digests per list, as a
/// browser shows it: `target/screenshots/digest-account.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_member_page_with_the_digest_choice_renders_in_a_browser() {
    use crate::common::browser::{subscribe, Browser};
    use crate::common::{Harness, TestDb};
    use tidings::store::{DeliveryMode, DigestKind};

    if !browser_available() {
        if std::env::var_os("CI").is_some() {
            panic!("{BROWSER} is not installed; .ci/run installs it (apt-get install chromium)");
        }
        eprintln!("SKIPPED screenshots: {BROWSER} is not installed (apt-get install chromium)");
        return;
    }
    let db = TestDb::sqlite();
    let h = Harness::start(&db).await;
    let member = "ana@ngo.example";
    for list in ["news", "open", "forum"] {
        subscribe(&h, list, member, "en").await;
    }
    let weekly = DeliveryMode::Digest(DigestKind::Weekly);
    let set = h.daemon.store.set_delivery_mode("open", member, weekly);
    assert!(set.await.expect("mode"));
    let mut browser = Browser::new(&h);
    browser.sign_in(&h, member, 1).await;
    let page = browser.request("GET", "/console/account", "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page
        .body
        .contains("<option value=\"weekly\" selected>Weekly digest</option>"));
    let out = output_dir();
    let html = out.join("digest-account.html");
    std::fs::write(&html, &page.body).expect("the page");
    let png = out.join("digest-account.png");
    let profile = tempfile::tempdir().expect("a profile directory");
    screenshot(&html, &png, false, profile.path());
    let (different, contrasting) = ink(&png);
    assert!(
        different > 0.01 && contrasting > 0.001,
        "{png:?} looks blank"
    );
    h.daemon.shutdown().await;
}
