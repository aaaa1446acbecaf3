//! A browser for the web console's tests: it keeps cookies, fills in forms with their
//! token, and signs in by the emailed link.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tidings::store::ImportLine;

use super::{http_with, Harness, DOMAIN};

/// A browser: it keeps the cookies it is given and sends them back.
pub struct Browser {
    pub web: SocketAddr,
    pub cookies: BTreeMap<String, String>,
    pub language: &'static str,
}

/// One answer: status, the header block, the body.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    pub fn set_cookies(&self) -> Vec<String> {
        self.head
            .lines()
            .filter_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("set-cookie")
                    .then(|| value.trim().to_string())
            })
            .collect()
    }

    pub fn location(&self) -> String {
        self.head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("location")
                    .then(|| value.trim().to_string())
            })
            .unwrap_or_default()
    }

    /// The form token of the page's (first) form.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("a form token") + marker.len();
        self.body[start..]
            .split('"')
            .next()
            .unwrap_or_default()
            .to_string()
    }

    pub fn is_sign_in_form(&self) -> bool {
        self.body.contains("name=\"address\"")
            && self
                .body
                .contains(&format!("action=\"https://{DOMAIN}/console/sign-in\""))
    }
}

impl Browser {
    pub fn new(h: &Harness) -> Browser {
        Browser {
            web: h.daemon.http_addr.expect("http listener"),
            cookies: BTreeMap::new(),
            language: "en",
        }
    }

    pub async fn request(&mut self, method: &str, path: &str, body: &str) -> Answer {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let cookie = cookie.join("; ");
        let mut fields = vec![("Accept-Language", self.language)];
        if !cookie.is_empty() {
            fields.push(("Cookie", &cookie));
        }
        let (status, head, body) = http_with(self.web, method, path, &fields, body).await;
        let answer = Answer { status, head, body };
        for set in answer.set_cookies() {
            let pair = set.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').unwrap_or_default();
            if value.is_empty() || set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        answer
    }

    /// Fills in and sends the sign-in form for `address`.
    pub async fn ask_for_link(&mut self, address: &str) -> Answer {
        let form = self.request("GET", "/console/sign-in", "").await;
        // Signed in already, the browser is sent home; its form cookie is the token.
        let token = match form.status {
            303 => self.cookies["__Host-tidings_form"].clone(),
            _ => form.csrf(),
        };
        let body = format!("csrf={token}&address={}", address.replace('@', "%40"));
        self.request("POST", "/console/sign-in", &body).await
    }

    /// Opens the emailed link and presses its button.
    pub async fn use_link(&mut self, path: &str) -> Answer {
        let page = self.request("GET", path, "").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let body = format!("csrf={}", page.csrf());
        self.request("POST", path, &body).await
    }

    /// Signs in as `address` (which must receive its `nth` link, counting from 1).
    pub async fn sign_in(&mut self, h: &Harness, address: &str, nth: usize) -> Answer {
        let answer = self.ask_for_link(address).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let path = link(h, address, nth).await;
        let signed_in = self.use_link(&path).await;
        assert_eq!(signed_in.status, 303, "{}", signed_in.body);
        signed_in
    }

    pub async fn home(&mut self) -> Answer {
        self.request("GET", "/console", "").await
    }
}

/// Waits (at most 15 s) until `address` has received `count` messages.
pub async fn wait_for_mail(h: &Harness, address: &str, count: usize) -> bool {
    for _ in 0..300 {
        if h.received_by(address).len() >= count {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The path of the sign-in link in the `nth` sign-in message `address` received (other
/// notices may come in between: a member disabled for bouncing is told so).
pub async fn link(h: &Harness, address: &str, nth: usize) -> String {
    let links = || -> Vec<String> {
        h.received_by(address)
            .iter()
            .filter_map(|message| {
                let text = message.body_text(0)?.to_string();
                let start = text.find("/console/sign-in/")?;
                text[start..].split_whitespace().next().map(str::to_string)
            })
            .collect()
    };
    for _ in 0..300 {
        if let Some(path) = links().get(nth - 1) {
            return path.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no sign-in link number {nth} for {address}");
}

pub async fn subscribe(h: &Harness, list: &str, address: &str, language: &str) {
    let line = ImportLine {
        address: address.into(),
        display_name: String::new(),
        language: language.into(),
    };
    h.daemon.store.add_member(list, &line).await.expect("add");
}
