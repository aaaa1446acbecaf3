use super::*;
use crate::tokens::Signer;

/// Two lists and a publication (which is a list too), as configured.
struct Names;

impl Directory for Names {
    fn list(&self, name: &str) -> Option<&str> {
        ["team", "info", "bulletin"]
            .into_iter()
            .find(|list| list.eq_ignore_ascii_case(name))
    }

    fn publication(&self, name: &str) -> Option<&str> {
        (name == "bulletin").then_some("bulletin")
    }

    fn postmaster_list(&self) -> Option<&str> {
        Some("team")
    }
}

const DOMAIN: &str = "lists.example.org";
const BASE_URL: &str = "https://lists.example.org";

fn with_links(test: impl FnOnce(Links)) {
    let signer = Signer::new("a secret for the tests");
    test(Links::new(DOMAIN, BASE_URL, &signer));
}

#[test]
fn every_role_has_its_address() {
    let built: Vec<String> = [Role::Post]
        .into_iter()
        .chain(Role::SUFFIXED)
        .map(|role| address("team", role, DOMAIN))
        .collect();
    assert_eq!(
        built,
        [
            "team@lists.example.org",
            "team-request@lists.example.org",
            "team-join@lists.example.org",
            "team-leave@lists.example.org",
            "team-owner@lists.example.org",
            "team-bounces@lists.example.org",
            "team-confirm@lists.example.org",
            "team-submit@lists.example.org",
        ]
    );
    assert_eq!(list_id("team", DOMAIN), "team.lists.example.org");
}

#[test]
fn nothing_built_can_leave_its_mailto() {
    assert_eq!(
        address("te am>\r\n<x@evil", Role::Owner, "lists.example.org>"),
        "teamxevil-owner@lists.example.org"
    );
}

/// Each URL is served by the route of its page, so links and the web listener agree.
#[test]
fn urls_match_the_routes_that_serve_them() {
    fn matches(route: &str, url: &str) -> bool {
        let path = url.strip_prefix(BASE_URL).expect("under base_url");
        let (route, path): (Vec<_>, Vec<_>) =
            (route.split('/').collect(), path.split('/').collect());
        route.len() == path.len()
            && route
                .iter()
                .zip(&path)
                .all(|(r, p)| (r.starts_with('{') && r.ends_with('}') && !p.is_empty()) || r == p)
    }
    with_links(|links| {
        let unsubscribe = links.unsubscribe("team", 7);
        assert!(matches(Page::Unsubscribe.route(), &unsubscribe.url));
        assert!(matches(
            Page::Reenable.route(),
            &links.reenable_url("team", 7)
        ));
        let (_, confirm_url) = links.confirmation("team", 7);
        assert!(matches(Page::Confirm.route(), &confirm_url));
    });
    assert!(matches(
        published::ARCHIVE,
        &archive_url(BASE_URL, "bulletin")
    ));
    assert!(matches(published::FEED, &feed_url(BASE_URL, "bulletin")));
    let edition = edition_url(BASE_URL, "bulletin", 12, "fr");
    assert_eq!(edition, "https://lists.example.org/p/bulletin/12/fr");
    assert!(matches(published::EDITION, &edition));
}

#[test]
fn a_trailing_slash_of_base_url_is_not_doubled() {
    assert_eq!(
        archive_url("https://lists.example.org/", "bulletin"),
        "https://lists.example.org/p/bulletin/"
    );
    assert_eq!(
        page_url(" https://lists.example.org// ", Page::Confirm, "team", "t"),
        "https://lists.example.org/confirm/team/t"
    );
}

#[test]
fn signed_addresses_route_back_to_what_they_name() {
    with_links(|links| {
        let route = |address: &str| links.route(address, &Names);
        assert_eq!(
            route(&links.verp("team", 42)),
            Ok(Destination::Bounces {
                list: "team".into(),
                delivery_id: Some(42)
            })
        );
        assert_eq!(
            route(&links.unsubscribe("info", 9).address),
            Ok(Destination::Leave {
                list: "info".into(),
                member_id: Some(9)
            })
        );
        let (confirm, _) = links.confirmation("team", 5);
        assert_eq!(
            route(&confirm),
            Ok(Destination::Confirm {
                list: "team".into(),
                request_id: 5
            })
        );
        let answers = [
            (Question::Approve, "team"),
            (Question::Moderate, "team"),
            (Question::Edition, "bulletin"),
        ];
        let routed: Vec<_> = answers
            .into_iter()
            .map(|(question, list)| route(&links.answer_address(list, question, 3)))
            .collect();
        assert_eq!(
            routed,
            [
                Ok(Destination::Approve {
                    list: "team".into(),
                    request_id: 3
                }),
                Ok(Destination::Moderate {
                    list: "team".into(),
                    message_id: 3
                }),
                Ok(Destination::ApproveEdition {
                    list: "bulletin".into(),
                    edition_id: 3
                }),
            ]
        );
    });
}

#[test]
fn a_token_for_another_list_or_use_is_forged() {
    with_links(|links| {
        let route = |address: &str| links.route(address, &Names);
        let other_list = links.verp("info", 42).replace("info-", "team-");
        let other_use = links
            .unsubscribe("team", 42)
            .address
            .replace("-leave+", "-bounces+");
        for forged in [
            other_list,
            other_use,
            "team-confirm+aaaa@lists.example.org".into(),
        ] {
            assert_eq!(
                route(&forged),
                Err(Unroutable::Forged {
                    recipient: forged.clone()
                })
            );
        }
    });
}

#[test]
fn what_is_not_ours_is_refused_with_its_reason() {
    with_links(|links| {
        let route = |address: &str| links.route(address, &Names);
        assert_eq!(
            route("team@elsewhere.example"),
            Err(Unroutable::OtherDomain {
                domain: DOMAIN.into()
            })
        );
        assert_eq!(route("team"), Err(Unroutable::NotAnAddress));
        for unknown in [
            "nosuch@lists.example.org",
            "team+x@lists.example.org",
            "team-request+x@lists.example.org",
            "team-submit@lists.example.org",
            "nosuch-owner@lists.example.org",
        ] {
            assert_eq!(
                route(unknown),
                Err(Unroutable::NoSuchList {
                    recipient: unknown.into()
                })
            );
        }
        assert_eq!(
            route("Bulletin@Lists.Example.org").map_err(|e| e.to_string()),
            Err(
                "bulletin@lists.example.org is a newsletter and takes no postings; editors send \
                 items to bulletin-submit@lists.example.org"
                    .into()
            )
        );
    });
}

#[test]
fn postmaster_and_abuse_reach_the_first_list() {
    with_links(|links| {
        for address in [
            "",
            "Postmaster",
            "postmaster@lists.example.org",
            "abuse@LISTS.example.org",
        ] {
            assert_eq!(
                links.route(address, &Names),
                Ok(Destination::Postmaster {
                    list: "team".into()
                })
            );
        }
    });
}

#[test]
fn unsubscribe_targets_name_the_member_by_mailto_or_by_url() {
    with_links(|links| {
        let unsubscribe = links.unsubscribe("team", 11);
        let expected = Some(("team".to_owned(), 11));
        assert_eq!(
            links.unsubscribe_target(&unsubscribe.address, &Names),
            expected
        );
        assert_eq!(links.unsubscribe_target(&unsubscribe.url, &Names), expected);
        let other_list = unsubscribe.url.replace("/team/", "/info/");
        assert_eq!(links.unsubscribe_target(&other_list, &Names), None);
        let reenable = links.reenable_url("team", 11);
        assert_eq!(links.unsubscribe_target(&reenable, &Names), None);
    });
}

#[test]
fn sign_in_links_carry_request_and_nonce_and_nothing_else_reads_them() {
    with_links(|links| {
        let url = links.sign_in_url(42, [7, u64::MAX]);
        let token = url
            .rsplit_once("/console/sign-in/")
            .map(|(_, token)| token.to_owned())
            .unwrap_or_default();
        assert!(url.starts_with("https://"), "{url}");
        assert_eq!(links.verify_sign_in(&token), Some((42, [7, u64::MAX])));
        assert_eq!(links.verify_sign_in(&format!("{token}a")), None);
        assert_eq!(links.verify_page(Page::Confirm, "team", &token), None);
        let confirm = links.confirmation("team", 42).1;
        let confirm_token = confirm.rsplit('/').next().unwrap_or_default();
        assert_eq!(links.verify_sign_in(confirm_token), None);
        assert_eq!(url, sign_in_link_url("https://lists.example.org/", &token));
    });
}

#[test]
fn console_pages_live_under_base_url() {
    assert_eq!(
        console_url("https://lists.example.org/", ConsolePage::Home),
        "https://lists.example.org/console"
    );
    assert_eq!(
        console_url("https://lists.example.org", ConsolePage::SignOutEverywhere),
        "https://lists.example.org/console/sign-out-everywhere"
    );
}

/// Each held-posting URL is its route with the placeholders filled in, so that the pages'
/// links always reach their handlers.
#[test]
fn held_posting_urls_follow_their_routes() {
    let base = "https://lists.example.org/";
    let fill = |route: &str| {
        format!(
            "https://lists.example.org{}",
            route
                .replace("{list}", "team")
                .replace("{id}", "42")
                .replace("{n}", "3")
        )
    };
    assert_eq!(held_queue_url(base, "team", 1), fill(held::QUEUE));
    assert_eq!(
        held_queue_url(base, "team", 2),
        format!("{}?page=2", fill(held::QUEUE))
    );
    assert_eq!(held_posting_url(base, "team", 42), fill(held::POSTING));
    assert_eq!(held_html_url(base, "team", 42), fill(held::HTML));
    assert_eq!(
        held_attachment_url(base, "team", 42, 3),
        fill(held::ATTACHMENT)
    );
    assert_eq!(held_decide_url(base, "team", 42), fill(held::DECIDE));
}

/// Each editors' URL is its route with the placeholders filled in.
#[test]
fn editing_urls_follow_their_routes() {
    let base = "https://lists.example.org/";
    let fill = |route: &str| {
        format!(
            "https://lists.example.org{}",
            route
                .replace("{publication}", "bulletin")
                .replace("{id}", "42")
                .replace("{lang}", "fr")
        )
    };
    let name = "bulletin";
    assert_eq!(
        publication_console_url(base, name),
        fill(editing::PUBLICATION)
    );
    assert_eq!(new_item_url(base, name), fill(editing::NEW_ITEM));
    assert_eq!(item_url(base, name, 42), fill(editing::ITEM));
    assert_eq!(
        withdraw_item_url(base, name, 42),
        fill(editing::WITHDRAW_ITEM)
    );
    assert_eq!(build_edition_url(base, name), fill(editing::BUILD));
    assert_eq!(edition_console_url(base, name, 42), fill(editing::EDITION));
    assert_eq!(
        edition_html_url(base, name, 42, "fr"),
        fill(editing::EDITION_HTML)
    );
    assert_eq!(
        decide_edition_url(base, name, 42),
        fill(editing::DECIDE_EDITION)
    );
}

/// A front MTA's table lists an address that routes for every address tidings takes, with
/// Postfix's `+` lookup: the address itself, or the one without its `+TOKEN`.
#[test]
fn a_front_mta_table_lists_every_address_and_nothing_else() {
    with_links(|links| {
        let mut table = recipients("team", false, DOMAIN);
        table.extend(recipients("bulletin", true, DOMAIN));
        table.extend(role_recipients(DOMAIN));
        let signer = Signer::new("a secret for the tests");
        let verp = signer.sign(Purpose::Verp, "bulletin", &[9]);
        for address in &table {
            // `-confirm@` is listed for its `+TOKEN` forms, which route with a genuine token.
            let routed = match address.split_once("-confirm@") {
                Some((list, domain)) => {
                    let token = signer.sign(Purpose::Confirm, list, &[7]);
                    links.route(&format!("{list}-confirm+{token}@{domain}"), &Names)
                }
                None => links.route(address, &Names),
            };
            assert!(routed.is_ok(), "{address}: {routed:?}");
        }
        assert!(table.contains(&"bulletin-submit@lists.example.org".to_string()));
        assert!(!table.contains(&"bulletin@lists.example.org".to_string()));
        assert!(!table.contains(&"team-submit@lists.example.org".to_string()));
        assert!(links
            .route(&format!("bulletin-bounces+{verp}@{DOMAIN}"), &Names)
            .is_ok());
        // Everything routing takes but the `+TOKEN` forms is listed.
        let all_roles = [Role::Post].into_iter().chain(Role::SUFFIXED);
        for name in ["team", "bulletin"] {
            for role in all_roles.clone() {
                let candidate = address(name, role, DOMAIN);
                if links.route(&candidate, &Names).is_ok() {
                    assert!(table.contains(&candidate), "{candidate} is not listed");
                }
            }
        }
    });
}
