//! A real browser for the console's end-to-end tests: Debian's chromium, headless, driven
//! over WebDriver (fantoccini) through a chromedriver that the test starts on a loopback
//! port of its own choosing. Everything is plain HTTP on loopback.
//!
//! Every step is bounded by [`STEP`]: a browser that stops answering fails the test rather
//! than hanging it. The driver and the browser are killed when [`Chromium`] is dropped,
//! on a failing test too, so that no chromium outlives its test.
//!
//! The helpers speak as a person does: fill in the field with this label, press the button
//! that says this, follow the link that says that, read the page.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, TimeoutConfiguration};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::browser::link;
use super::Harness;

const BROWSER: &str = "chromium";
const DRIVER: &str = "chromedriver";

/// The longest any one step may take. Generous: a cold start of chromium on a busy 2-core
/// machine takes seconds, and a test is failed, not hung, when it runs out.
pub const STEP: Duration = Duration::from_secs(60);

/// A desktop window and a phone's (an iPhone 12-15's CSS width).
pub const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (390, 844);

/// Whether chromium and chromedriver are installed. Without them the test is skipped with a
/// plain message, except in CI (`CI` set), where `.ci/run` installs both and their absence
/// is a failure.
pub fn available(test: &str) -> bool {
    let runs = |program: &str| {
        Command::new(program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if runs(BROWSER) && runs(DRIVER) {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{BROWSER} or {DRIVER} is missing; .ci/run installs them (apt-get install chromium chromium-driver)");
    }
    eprintln!("SKIPPED {test}: {BROWSER} or {DRIVER} is not installed (apt-get install chromium chromium-driver)");
    false
}

/// `target/screenshots/console/`, next to cargo's own directories.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("screenshots")
        .join("console");
    std::fs::create_dir_all(&dir).expect("target/screenshots/console");
    dir
}

/// `step`, or a failure naming `what` when it fails or takes longer than [`STEP`].
async fn within<T, E: std::fmt::Debug>(
    what: &str,
    step: impl std::future::Future<Output = Result<T, E>>,
) -> T {
    match tokio::time::timeout(STEP, step).await {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => panic!("{what}: {error:?}"),
        Err(_) => panic!("{what}: no answer within {STEP:?}"),
    }
}

/// The chromedriver process and the browser profile. Dropping it kills chromedriver's
/// process group and chromium's (chromedriver starts chromium in a group of its own), so
/// that nothing is left running even when the test fails half-way.
struct Processes {
    driver: Child,
    profile: tempfile::TempDir,
}

impl Processes {
    /// The browser's process id, from the lock chromium keeps in its profile
    /// (`SingletonLock` points to `host-pid`).
    fn browser_pid(&self) -> Option<u32> {
        let target = std::fs::read_link(self.profile.path().join("SingletonLock")).ok()?;
        let target = target.to_string_lossy().into_owned();
        target.rsplit_once('-')?.1.parse().ok()
    }
}

/// Sends SIGKILL to process group `group`.
fn kill_group(group: u32) {
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status();
}

impl Drop for Processes {
    fn drop(&mut self) {
        if let Some(browser) = self.browser_pid() {
            kill_group(browser);
        }
        kill_group(self.driver.id());
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Starts chromedriver on a free loopback port it picks itself, answering loopback only;
/// returns it and its port once it says it listens.
fn start_driver(profile: tempfile::TempDir) -> (Processes, u16) {
    let mut driver = Command::new(DRIVER)
        .args(["--port=0", "--allowed-ips=127.0.0.1", "--log-level=WARNING"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        // A group of its own, for the guard to kill whatever it leaves.
        .process_group(0)
        .spawn()
        .expect("chromedriver starts");
    let stdout = driver.stdout.take().expect("chromedriver's output");
    let processes = Processes { driver, profile };
    let (sender, receiver) = std::sync::mpsc::channel();
    // Reads the whole output, so that a chatty driver never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let port = line
                .strip_prefix("ChromeDriver was started successfully on port ")
                .and_then(|rest| rest.trim_end_matches('.').parse::<u16>().ok());
            if let Some(port) = port {
                let _ = sender.send(port);
            }
        }
    });
    match receiver.recv_timeout(STEP) {
        Ok(port) => (processes, port),
        Err(_) => panic!("chromedriver did not say its port within {STEP:?}"),
    }
}

/// XPath's string literal for `text`, whatever quotes it holds.
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        return format!("'{text}'");
    }
    if !text.contains('"') {
        return format!("\"{text}\"");
    }
    let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
    format!("concat({})", parts.join(", \"'\", "))
}

/// One headless chromium, its pages in `language`, pointed at the daemon at `base` (e.g.
/// `http://127.0.0.1:8080`).
pub struct Chromium {
    client: Client,
    base: String,
    language: String,
    /// Last, so that the session is gone before the processes are killed.
    processes: Processes,
}

impl Chromium {
    /// A fresh browser with a throwaway profile, asking for pages in `language` (its
    /// `Accept-Language`), JavaScript off as the console must work without it.
    pub async fn start(base: &str, language: &str) -> Chromium {
        let profile = tempfile::tempdir().expect("a browser profile directory");
        let arguments = vec![
            "--headless=new".to_string(),
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-dev-shm-usage".to_string(),
            "--no-first-run".to_string(),
            "--disable-extensions".to_string(),
            "--disable-crash-reporter".to_string(),
            "--disable-background-networking".to_string(),
            "--hide-scrollbars".to_string(),
            format!("--lang={language}"),
            format!("--user-data-dir={}", profile.path().display()),
            format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
        ];
        let (processes, port) = start_driver(profile);
        let mut capabilities = Capabilities::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "args": arguments,
                "prefs": {
                    "intl.accept_languages": language,
                    "profile.managed_default_content_settings.javascript": 2,
                },
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = within(
            "chromium starts under chromedriver",
            ClientBuilder::new(connector)
                .capabilities(capabilities)
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await;
        let timeouts = TimeoutConfiguration::new(Some(STEP), Some(STEP), None);
        within("timeouts are set", client.update_timeouts(timeouts)).await;
        // The console must work without JavaScript: make sure the pages get none.
        let probe = "data:text/html,<title>off</title><script>document.title='on'</script>";
        within("open a page with a script", client.goto(probe)).await;
        let title = within("read its title", client.title()).await;
        assert_eq!(title, "off", "JavaScript is not off in the test browser");
        Chromium {
            client,
            base: base.to_string(),
            language: language.to_string(),
            processes,
        }
    }

    pub fn language(&self) -> &str {
        &self.language
    }

    /// Opens `path` (or a whole URL) and waits for it to load.
    pub async fn open(&self, path: &str) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        within(&format!("open {url}"), self.client.goto(&url)).await;
    }

    /// The path (and query) of the page shown.
    pub async fn path(&self) -> String {
        let url = within("current URL", self.client.current_url()).await;
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// The text a person reads on the page.
    pub async fn text_of_page(&self) -> String {
        let body = self.find("the page's body", Locator::Css("body")).await;
        within("the page's text", body.text()).await
    }

    /// The text a person reads in the frame titled `title` (a preview, framed apart).
    pub async fn text_of_frame(&self, title: &str) -> String {
        let xpath = format!("//iframe[@title={}]", xpath_literal(title));
        let frame = self
            .find(&format!("frame {title:?}"), Locator::XPath(&xpath))
            .await;
        within(&format!("enter frame {title:?}"), frame.enter_frame()).await;
        let body = within(
            "the frame's body",
            self.client
                .wait()
                .at_most(STEP)
                .for_element(Locator::Css("body")),
        )
        .await;
        let text = within("the frame's text", body.text()).await;
        within("leave the frame", self.client.enter_parent_frame()).await;
        text
    }

    async fn find(&self, what: &str, locator: Locator<'_>) -> Element {
        within(&format!("find {what}"), self.client.find(locator)).await
    }

    async fn find_any(&self, locators: &[Locator<'_>]) -> Option<Element> {
        for locator in locators {
            let found = within("find", self.client.find_all(*locator)).await;
            if let Some(element) = found.into_iter().next() {
                return Some(element);
            }
        }
        None
    }

    /// Types `value` into the field labelled `label_or_name` (its label's text, else its
    /// `name`), replacing what it held.
    pub async fn fill(&self, label_or_name: &str, value: &str) {
        let label = format!(
            "//label[normalize-space()={}]",
            xpath_literal(label_or_name)
        );
        let by_label = self.find_any(&[Locator::XPath(&label)]).await;
        let field = match by_label {
            Some(label) => {
                let id = within("the label's field", label.attr("for"))
                    .await
                    .unwrap_or_else(|| panic!("label {label_or_name:?} names no field"));
                self.find(&format!("field #{id}"), Locator::Id(&id)).await
            }
            None => {
                let name = format!("[name={}]", xpath_literal(label_or_name));
                self.find(&format!("field {label_or_name:?}"), Locator::Css(&name))
                    .await
            }
        };
        within("clear the field", field.clear()).await;
        within(
            &format!("type into {label_or_name:?}"),
            field.send_keys(value),
        )
        .await;
    }

    /// Presses the button that says `text`, and waits for the page it leads to.
    pub async fn press(&self, text: &str) {
        let literal = xpath_literal(text);
        let button = format!("//button[normalize-space()={literal}]");
        let input = format!("//input[@type='submit' and @value={literal}]");
        // A button whose text is one word of many alike ("Leave") is named apart for
        // screen readers ("Leave Coalition News"): that name presses it too.
        let named = format!("//button[@aria-label={literal}]");
        let found = self
            .find_any(&[
                Locator::XPath(&button),
                Locator::XPath(&input),
                Locator::XPath(&named),
            ])
            .await;
        let Some(button) = found else {
            panic!(
                "no button {text:?} on {}:\n{}",
                self.path().await,
                self.text_of_page().await
            );
        };
        self.click_and_wait(&button, text).await;
    }

    /// Presses the button of the page's first form, whatever its language calls it (the
    /// sign-in form and the emailed link's page have one each).
    pub async fn submit_first_form(&self) {
        let button = self
            .find("a form's button", Locator::Css("form button[type=submit]"))
            .await;
        self.click_and_wait(&button, "the form's button").await;
    }

    /// Follows the link that says `text`, and waits for the page it leads to.
    pub async fn follow(&self, text: &str) {
        let xpath = format!("//a[normalize-space()={}]", xpath_literal(text));
        let Some(link) = self.find_any(&[Locator::XPath(&xpath)]).await else {
            panic!(
                "no link {text:?} on {}:\n{}",
                self.path().await,
                self.text_of_page().await
            );
        };
        self.click_and_wait(&link, text).await;
    }

    /// Follows the link that says `text` in the part of the page under the heading that
    /// says `heading` (a page may link to one title from two of its parts).
    pub async fn follow_under(&self, heading: &str, text: &str) {
        let xpath = format!(
            "//*[self::h2 or self::h3][normalize-space()={}]/following-sibling::*[1]//a[normalize-space()={}]",
            xpath_literal(heading),
            xpath_literal(text)
        );
        let Some(link) = self.find_any(&[Locator::XPath(&xpath)]).await else {
            panic!(
                "no link {text:?} under {heading:?} on {}:\n{}",
                self.path().await,
                self.text_of_page().await
            );
        };
        self.click_and_wait(&link, text).await;
    }

    /// Clicks `element` and waits until the page it was on is gone (its root element stale)
    /// and the next one has loaded. A form may post back to its own URL, so the URL alone
    /// cannot tell that the page changed.
    async fn click_and_wait(&self, element: &Element, what: &str) {
        let root = self.find("the page", Locator::Css("html")).await;
        within(&format!("click {what:?}"), element.click()).await;
        let started = Instant::now();
        while root.tag_name().await.is_ok() {
            assert!(
                started.elapsed() < STEP,
                "the page stayed the same {STEP:?} after clicking {what:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The next page's body, once it is there.
        within(
            "the next page",
            self.client
                .wait()
                .at_most(STEP)
                .for_element(Locator::Css("body")),
        )
        .await;
    }

    /// Asks for a sign-in link for `address`, opens the `nth` one it receives in the test
    /// SMTP sink (counting from 1) and presses its button: the browser is then signed in,
    /// on the console's home page.
    pub async fn sign_in_as(&self, h: &Harness, address: &str, nth: usize) {
        self.open("/console/sign-in").await;
        self.fill("address", address).await;
        self.submit_first_form().await;
        let path = link(h, address, nth).await;
        self.open(&path).await;
        self.submit_first_form().await;
        assert_eq!(
            self.path().await,
            "/console",
            "{}",
            self.text_of_page().await
        );
    }

    /// Runs `script` (a function body) in the page, for the checks below.
    async fn script(&self, what: &str, script: &str) -> serde_json::Value {
        within(what, self.client.execute(script, Vec::new())).await
    }

    /// What a person could not use on this page: fields without a label, content wider
    /// than the window (which a phone would have to scroll sideways), content sticking
    /// out of the page's frame (`main`), and text too faint against its background (solid
    /// colours only: a background image is not seen).
    pub async fn problems(&self) -> Vec<String> {
        let found = self
            .script(
                "check the page",
                r#"
const problems = [];
for (const field of document.querySelectorAll('input:not([type=hidden]), textarea, select')) {
  if (field.labels.length === 0 && !field.getAttribute('aria-label')) {
    problems.push('field without a label: ' + (field.name || field.outerHTML));
  }
}
const root = document.documentElement;
if (root.scrollWidth > root.clientWidth) {
  problems.push('page wider than the window: ' + root.scrollWidth + ' > ' + root.clientWidth);
}
// Visually hidden content (clipped to nothing, for screen readers) is not seen.
const hidden = (element) => {
  for (let e = element; e; e = e.parentElement) {
    if (getComputedStyle(e).clipPath !== 'none') return true;
  }
  return false;
};
const frame = (document.querySelector('main') || document.body).getBoundingClientRect();
for (const element of document.body.querySelectorAll('main *')) {
  const box = element.getBoundingClientRect();
  if ((box.width === 0 && box.height === 0) || hidden(element)) continue;
  if (box.right > frame.right + 1 || box.left < frame.left - 1) {
    problems.push('sticks out of the page: <' + element.tagName.toLowerCase() + ' class="' + element.className + '">');
  }
}
// Text against its background: at least 4.5:1, or 3:1 for large text (WCAG 1.4.3).
const rgba = (css) => (css.match(/[\d.]+/g) || []).map(Number);
const luminance = ([r, g, b]) => {
  const linear = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
};
const background = (element) => {
  for (let e = element; e; e = e.parentElement) {
    const colour = rgba(getComputedStyle(e).backgroundColor);
    if (colour.length === 3 || (colour.length === 4 && colour[3] > 0)) return colour;
  }
  return [255, 255, 255];
};
for (const element of document.body.querySelectorAll('*')) {
  const own = [...element.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own || hidden(element) || element.getClientRects().length === 0) continue;
  const style = getComputedStyle(element);
  const [light, dark] = [luminance(rgba(style.color)), luminance(background(element))].sort((a, b) => b - a);
  const ratio = (light + 0.05) / (dark + 0.05);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
  if (ratio < (large ? 3 : 4.5)) {
    problems.push('low contrast ' + ratio.toFixed(2) + ':1: <' + element.tagName.toLowerCase() + '> ' + element.textContent.trim().slice(0, 40));
  }
}
return problems;
"#,
            )
            .await;
        serde_json::from_value(found).unwrap_or_default()
    }

    /// Saves the whole page at `size` (width, least height) as `name.png` under
    /// `target/screenshots/console/`, and returns the problems [`Chromium::problems`] found
    /// at that size. The window is made as tall as the page, so that nothing is cut off.
    pub async fn screenshot(&self, name: &str, size: (u32, u32)) -> Vec<String> {
        within(
            "resize the window",
            self.client.set_window_size(size.0, size.1),
        )
        .await;
        // The window's frame takes some of its height: add what the page needs beyond the
        // space it is given.
        let measured = self
            .script(
                "measure the page",
                "return [document.documentElement.scrollHeight, window.innerHeight];",
            )
            .await;
        let number = |i: usize| measured.get(i).and_then(|v| v.as_u64()).unwrap_or(0);
        let beyond = u32::try_from(number(0).saturating_sub(number(1))).unwrap_or(0);
        within(
            "resize the window",
            self.client
                .set_window_size(size.0, (size.1 + beyond).min(10_000)),
        )
        .await;
        let problems = self.problems().await;
        let png = within("take a screenshot", self.client.screenshot()).await;
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        within(
            "resize the window",
            self.client.set_window_size(DESKTOP.0, DESKTOP.1),
        )
        .await;
        problems
            .into_iter()
            .map(|problem| format!("{name}: {problem}"))
            .collect()
    }

    /// Ends the session and the browser cleanly; dropping without it kills them instead.
    pub async fn quit(self) {
        let Chromium {
            client, processes, ..
        } = self;
        let _ = tokio::time::timeout(STEP, client.close()).await;
        drop(processes);
    }
}
