use crate::config::LANGUAGES;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};

use super::*;

const TEMPLATE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");

const OUTCOMES: [&str; 9] = [
    "subscribe_requested",
    "unsubscribe_requested",
    "language_set",
    "language_unknown",
    "help_sent",
    "closed",
    "unknown_command",
    "too_many",
    "digest_set",
];

const HOSTILE: &str = "<script>alert(1)</script> \"&'";

fn shipped() -> Templates {
    Templates::load(Path::new(TEMPLATE_DIR)).expect("shipped templates load")
}

fn list() -> Value {
    json!({
        "name": "team-gender",
        "display_name": "Gender Justice Team",
        "description": "Coordination of the coalition's work on gender justice.",
        "address": "team-gender@lists.example.org",
        "request_address": "team-gender-request@lists.example.org",
        "join_address": "team-gender-join@lists.example.org",
        "leave_address": "team-gender-leave@lists.example.org",
        "owner_address": "team-gender-owner@lists.example.org",
        "members_may_post": true,
        "confidential": true,
        "digests": true,
    })
}

/// Exactly the variables the daemon provides for `name`, no more: strict mode
/// then proves that no template uses anything else.
fn notice_data(name: &str) -> Value {
    let mut data = json!({
        "address": "amina.diallo@example.org",
        "base_url": "https://lists.example.org",
        "account_url": "https://lists.example.org/console/account",
        "list": list(),
    });
    let extra = subscription_data(name)
        .or_else(|| moderation_data(name))
        .or_else(|| delivery_data(name))
        .or_else(|| editor_data(name))
        .unwrap_or_else(|| json!({}));
    merge(&mut data, extra);
    data
}

/// The extra variables of the notices about joining and leaving, and of command replies.
fn subscription_data(name: &str) -> Option<Value> {
    match name {
        "confirm_subscribe" | "confirm_unsubscribe" => Some(json!({
            "confirm_address": "team-gender-confirm+b7k2m9q4x1@lists.example.org",
            "confirm_url": "https://lists.example.org/confirm/b7k2m9q4x1c8d3f6",
            "expires_days": 7,
        })),
        "welcome" => Some(json!({
            "unsubscribe_url": "https://lists.example.org/unsubscribe/team-gender/a1b2c3d4",
        })),
        "approval_needed" => Some(json!({
            "request_id": 12,
            "requester": "amina.diallo@example.org",
            "approve_address": "team-gender-confirm+r8c3v6n2z5@lists.example.org",
            "cli_approve": "tidings requests approve 12",
            "cli_reject": "tidings requests reject 12",
        })),
        "rejected" => {
            Some(json!({ "reason": "This list is reserved for the steering committee." }))
        }
        "sign_in" => Some(json!({
            "sign_in_url": "https://lists.example.org/console/sign-in/q7m2k9x4b8c3v6n1",
            "expires_minutes": 15,
        })),
        "command_results" => Some(json!({
            "results": OUTCOMES
                .iter()
                .map(|o| json!({ "command": format!("cmd-{o}"), "outcome": o, "argument": "fr" }))
                .collect::<Vec<_>>(),
        })),
        _ => None,
    }
}

/// The extra variables of the notices about held and rejected postings.
fn moderation_data(name: &str) -> Option<Value> {
    match name {
        "held_notice" => Some(json!({
            "sender": "omar.haddad@example.net",
            "subject": "Draft statement for the regional meeting",
            "reason": "not_member",
            "excerpt": "Dear colleagues,\n\nPlease find below our draft statement for the\nregional meeting in Dakar.",
            "held_id": 42,
            "moderate_address": "team-gender-confirm+m4d8k2w7p3@lists.example.org",
            "cli_approve": "tidings held approve 42",
            "cli_reject": "tidings held reject 42",
            "cli_discard": "tidings held discard 42",
            "expires_days": 7,
        })),
        "posting_rejected" => Some(json!({
            "subject": "Draft statement for the regional meeting",
            "reason": "Please send statements to the steering committee.",
        })),
        "held_expired" => Some(json!({
            "subject": "Draft statement for the regional meeting",
            "expires_days": 7,
        })),
        _ => None,
    }
}

/// The extra variables of the notices about failed deliveries.
fn delivery_data(name: &str) -> Option<Value> {
    match name {
        "bounce_disabled" => Some(json!({
            "reenable_url": "https://lists.example.org/reenable/team-gender/k3m8p2q7w4",
            "notice_number": 1,
            "notices_total": 3,
            "interval_days": 7,
        })),
        "deliverability" => Some(json!({
            "domain": "mail.example.net",
            "status": "5.7.1",
            "detail": "550 5.7.1 Message rejected as spam",
        })),
        "delivery_expired" => Some(json!({
            "subject": "Draft statement for the regional meeting",
            "detail": "gave up after 44 attempts over 117 h; last reply: 451 4.3.0 mailbox busy",
            "lifetime_days": 5,
        })),
        _ => None,
    }
}

/// The extra variables of the notices to a publication's editors.
fn editor_data(name: &str) -> Option<Value> {
    match name {
        "item_received" => Some(json!({
            "accepted": true,
            "problem": "",
            "title": "Rome Statute at 30",
            "item": {
                "id": 7,
                "language": "fr",
                "section": "Campaigns",
                "key": "rome-statute-30",
            },
            "languages": "en, fr, es",
            "cli_remove": "tidings items remove 7",
        })),
        "edition_preview" => Some(json!({
            "edition_id": 3,
            "number": 12,
            "languages": "en, fr, es",
            "items": 5,
            "approve_address": "team-gender-confirm+e5t8y2u6i9@lists.example.org",
            "cli_approve": "tidings editions approve 3",
            "cli_cancel": "tidings editions cancel 3",
        })),
        "edition_empty" => Some(json!({ "scheduled": "2027-03-01 09:00 CET" })),
        "edition_caught_up" => Some(json!({
            "scheduled": "2027-03-01 09:00 CET",
            "skipped": 1,
            "built": true,
        })),
        _ => None,
    }
}

/// Every variant of every page: each value of `kind`, `outcome` and `reason`.
fn page_variants(name: &str) -> Vec<Value> {
    let base = || {
        json!({
            "list": { "display_name": "Gender Justice Team", "address": "team-gender@lists.example.org" },
            "address": "amina.diallo@example.org",
        })
    };
    let with = |extra: Value| {
        let mut data = base();
        merge(&mut data, extra);
        data
    };
    let action_url = "https://lists.example.org/confirm/b7k2m9q4x1c8d3f6";
    match name {
        "unsubscribe" | "reenable" => vec![with(json!({ "action_url": action_url }))],
        "confirm" => ["subscribe", "unsubscribe"]
            .iter()
            .map(|k| with(json!({ "action_url": action_url, "kind": k })))
            .collect(),
        "confirmed" => ["subscribed", "unsubscribed", "awaiting_approval"]
            .iter()
            .map(|o| with(json!({ "outcome": o })))
            .collect(),
        "invalid" => ["forged", "expired", "used"]
            .iter()
            .map(|r| with(json!({ "reason": r })))
            .collect(),
        name if name.starts_with("console_") => console_variants(name, &with),
        name if name.starts_with("archive_") => archive_variants(name, &with),
        _ => vec![base()],
    }
}

/// The lists' archive pages: public and confidential, full and empty.
fn archive_variants(name: &str, with: &dyn Fn(Value) -> Value) -> Vec<Value> {
    let archive = "https://lists.example.org/archive/team-gender";
    let list = json!({
        "list_name": "team-gender",
        "list_title": "Gender Justice Team",
        "confidential": true,
        "list_url": format!("{archive}/"),
        "lists_url": "https://lists.example.org/archive/",
        "search_url": format!("{archive}/search"),
        "feed_url": "",
    });
    let public = |mut data: Value| {
        merge(
            &mut data,
            json!({ "confidential": false, "feed_url": format!("{archive}/feed.xml") }),
        );
        data
    };
    let page = |extra: Value| {
        let mut data = list.clone();
        merge(&mut data, extra);
        with(data)
    };
    let message_url = format!("{archive}/message/abcdefghijklmnopqrstuvwx");
    let full = match name {
        "archive_lists" => {
            let entry = json!({
                "name": "info-en",
                "title": "Coalition information",
                "description": "News from the secretariat",
                "url": "https://lists.example.org/archive/info-en/",
            });
            return vec![
                with(json!({
                    "public": [entry.clone()],
                    "confidential": [entry],
                    "signed_in": true,
                    "sign_in_url": "https://lists.example.org/console/sign-in",
                })),
                with(json!({
                    "public": [],
                    "confidential": [],
                    "signed_in": false,
                    "sign_in_url": "https://lists.example.org/console/sign-in",
                })),
            ];
        }
        "archive_list" => page(json!({
            "description": "Where the team prepares its positions",
            "months": [{ "month": "2026-03", "count": 12, "url": format!("{archive}/2026-03/"), "mbox_url": format!("{archive}/2026-03/mbox") }],
            "total": 12,
        })),
        "archive_month" => page(json!({
            "month": "2026-03",
            "count": 3,
            "thread_count": 2,
            "threads": [
                { "subject": "Agenda for Nairobi", "url": format!("{archive}/thread/abcdefghijklmnopqrstuvwx"), "count": 2, "authors": "Amina Diallo, José", "first": "2026-03-02 10:00 UTC", "last": "2026-03-03 09:00 UTC" },
                { "subject": "", "url": format!("{archive}/thread/bbcdefghijklmnopqrstuvwx"), "count": 1, "authors": "ana at ngo.example", "first": "2026-03-04 10:00 UTC", "last": "2026-03-04 10:00 UTC" },
            ],
            "mbox_url": format!("{archive}/2026-03/mbox"),
        })),
        "archive_thread" => page(json!({
            "subject": "Agenda for Nairobi",
            "count": 2,
            "month": "2026-03",
            "month_url": format!("{archive}/2026-03/"),
            "messages": [
                { "depth": 0, "indent": "0rem", "subject": "Agenda for Nairobi", "author": "Amina Diallo", "date": "2026-03-02 10:00 UTC", "url": message_url, "text": "Dear all <see below>" },
                { "depth": 1, "indent": "1.25rem", "subject": "", "author": "José", "date": "2026-03-03 09:00 UTC", "url": message_url, "text": "Agreed." },
            ],
        })),
        "archive_message" => {
            let full = page(json!({
                "subject": "Agenda for Nairobi",
                "author": "Amina Diallo",
                "date": "2026-03-02 10:00 UTC",
                "text": "Dear all <see below>",
                "html_url": format!("{message_url}/html"),
                "attachments": [{ "name": "agenda.pdf", "type": "application/pdf", "size": 5120, "url": format!("{message_url}/attachments/0") }],
                "thread_url": format!("{archive}/thread/abcdefghijklmnopqrstuvwx"),
                "month": "2026-03",
                "month_url": format!("{archive}/2026-03/"),
                "may_remove": true,
                "remove_url": format!("{message_url}/remove"),
                "csrf": "c0ffee",
            }));
            let mut plain = full.clone();
            merge(
                &mut plain,
                json!({ "html_url": "", "attachments": [], "may_remove": false, "csrf": "", "subject": "" }),
            );
            return vec![full.clone(), public(plain), public(full)];
        }
        "archive_search" => {
            let found = page(json!({
                "query": "nairobi agenda",
                "searched": true,
                "results": [{ "subject": "Agenda for Nairobi", "author": "Amina Diallo", "date": "2026-03-02 10:00 UTC", "url": message_url, "thread_url": format!("{archive}/thread/abcdefghijklmnopqrstuvwx") }],
                "count": 1,
                "limit": 100,
            }));
            let mut none = found.clone();
            merge(&mut none, json!({ "results": [], "count": 0 }));
            let mut form = found.clone();
            merge(
                &mut form,
                json!({ "query": "", "searched": false, "results": [], "count": 0 }),
            );
            return vec![found, public(none), form];
        }
        other => panic!("no variants for {other}"),
    };
    vec![full.clone(), public(full)]
}

/// The web console's pages: each variable they use, each value that changes what they say.
fn console_variants(name: &str, with: &dyn Fn(Value) -> Value) -> Vec<Value> {
    let sign_in_url = "https://lists.example.org/console/sign-in";
    let csrf = "5f0e4a9c1b2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f";
    match name {
        "console_sign_in" => ["", "invalid_address"]
            .iter()
            .map(|p| with(json!({ "action_url": sign_in_url, "csrf": csrf, "problem": p })))
            .collect(),
        "console_link" => vec![with(json!({
            "action_url": "https://lists.example.org/console/sign-in/q7m2k9x4b8c3v6n1",
            "csrf": csrf,
        }))],
        "console_home" => {
            let full = json!({
                "admin": true,
                "duties": [
                    { "name": "team-gender", "title": "Gender Justice Team", "duty": "owner" },
                    { "name": "team-gender", "title": "Gender Justice Team", "duty": "moderator" },
                    { "name": "info-en", "title": "Coalition Info", "duty": "poster" },
                    { "name": "bulletin", "title": "The Bulletin", "duty": "editor" },
                ],
                "subscriptions": [
                    { "name": "info-en", "title": "Coalition Info", "active": true, "language": "Français" },
                    { "name": "team-gender", "title": "Gender Justice Team", "active": false, "language": "العربية" },
                ],
                "moderated": [
                    { "name": "team-gender", "title": "Gender Justice Team", "held": 3, "url": "https://lists.example.org/console/lists/team-gender/held", "requests_url": "https://lists.example.org/console/lists/team-gender/requests" },
                ],
                "owned": [
                    { "name": "team-gender", "title": "Gender Justice Team", "members_url": "https://lists.example.org/console/lists/team-gender/members", "requests_url": "https://lists.example.org/console/lists/team-gender/requests", "bounces_url": "https://lists.example.org/console/lists/team-gender/bounces", "queue_url": "https://lists.example.org/console/lists/team-gender/queue" },
                ],
                "edited": [
                    { "name": "bulletin", "title": "The Bulletin", "url": "https://lists.example.org/console/publications/bulletin" },
                ],
                "trails": [
                    { "name": "team-gender", "title": "Gender Justice Team", "url": "https://lists.example.org/console/lists/team-gender/audit" },
                ],
                "whole_trail_url": "https://lists.example.org/console/audit",
                "account_url": "https://lists.example.org/console/account",
                "csrf": csrf,
                "sign_out_url": "https://lists.example.org/console/sign-out",
                "sign_out_everywhere_url": "https://lists.example.org/console/sign-out-everywhere",
            });
            let mut empty = full.clone();
            empty["admin"] = json!(false);
            empty["duties"] = json!([]);
            empty["subscriptions"] = json!([]);
            empty["moderated"] = json!([]);
            empty["edited"] = json!([]);
            empty["trails"] = json!([]);
            empty["whole_trail_url"] = json!("");
            empty["owned"] = json!([]);
            vec![with(full), with(empty)]
        }
        "console_signed_out" => [false, true]
            .iter()
            .map(|e| with(json!({ "everywhere": e, "sign_in_url": sign_in_url })))
            .collect(),
        "console_refused" => ["csrf", "too_many"]
            .iter()
            .map(|r| with(json!({ "reason": r, "sign_in_url": sign_in_url })))
            .collect(),
        "console_not_found" => vec![with(
            json!({ "home_url": "https://lists.example.org/console" }),
        )],
        "console_held_queue" | "console_held_posting" | "console_held_decided" => {
            held_variants(name, with)
        }
        "console_publication"
        | "console_item"
        | "console_edition_build"
        | "console_edition"
        | "console_editions_outcome" => editing_variants(name, with),
        "console_account" | "console_account_done" | "console_audit" => member_variants(name, with),
        "console_roster" | "console_member" | "console_import" | "console_requests"
        | "console_bounces" | "console_queue" => roster_variants(name, with),
        _ => vec![with(json!({ "sign_in_url": sign_in_url }))],
    }
}

/// The editors' pages: full and empty, new and changed items, each outcome.
fn editing_variants(name: &str, with: &dyn Fn(Value) -> Value) -> Vec<Value> {
    let base = "https://lists.example.org/console/publications/bulletin";
    let csrf = "5f0e4a9c1b2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f";
    let edition = json!({
        "id": 7, "number": "3", "special": true, "state": "awaiting_approval",
        "built": "2027-03-01 08:00 UTC", "sent": "", "url": format!("{base}/editions/7"),
    });
    let (full, empty): (Value, Value) = match name {
        "console_publication" => {
            let mut cancelled = edition.clone();
            cancelled["state"] = json!("cancelled");
            cancelled["number"] = json!("");
            cancelled["url"] = json!("");
            let full = json!({
                "publication_name": "bulletin",
                "publication_title": "The Bulletin",
                "waiting": true,
                "languages": [
                    { "code": "en", "name": "English", "items": [{
                        "title": "The Court <in> 2027", "author": "", "section": "News",
                        "created": "2027-02-01 10:00 UTC", "url": format!("{base}/items/4"),
                    }] },
                    { "code": "fr", "name": "Français", "items": [] },
                ],
                "schedule": "0 0 9 1 1/2 *",
                "time_zone": "Europe/Amsterdam",
                "manual": true,
                "slots": [{ "local": "2027-03-01 09:00 CET", "utc": "2027-03-01 08:00 UTC" }],
                "awaiting": [edition.clone()],
                "recent": [edition.clone(), cancelled],
                "new_item_url": format!("{base}/items/new"),
                "build_url": format!("{base}/build"),
                "home_url": "https://lists.example.org/console",
            });
            let mut empty = full.clone();
            empty["waiting"] = json!(false);
            empty["manual"] = json!(false);
            for key in ["slots", "awaiting", "recent"] {
                empty[key] = json!([]);
            }
            (full, empty)
        }
        "console_item" => {
            let full = json!({
                "editing": true,
                "publication_title": "The Bulletin",
                "title": "The Court <in> 2027",
                "section": "News",
                "key": "court",
                "body": "Text of *the* <b>story</b>.",
                "languages": [
                    { "code": "en", "name": "English", "selected": true },
                    { "code": "fr", "name": "Français", "selected": false },
                ],
                "preview": true,
                "preview_html": "<p style=\"margin:0 0 16px;\">Text of <em>the</em> &lt;b&gt;story&lt;/b&gt;.</p>",
                "problem": "",
                "action_url": format!("{base}/items/4"),
                "withdraw_url": format!("{base}/items/4/withdraw"),
                "publication_url": base,
                "csrf": csrf,
            });
            let mut empty = full.clone();
            empty["editing"] = json!(false);
            empty["preview"] = json!(false);
            empty["problem"] = json!("the item has no title");
            (full, empty)
        }
        "console_edition_build" => {
            let full = json!({
                "publication_title": "The Bulletin",
                "items": [{ "title": "The Court <in> 2027", "language": "English" }],
                "manual": true,
                "action_url": format!("{base}/build"),
                "publication_url": base,
                "csrf": csrf,
            });
            let mut empty = full.clone();
            empty["items"] = json!([]);
            (full, empty)
        }
        "console_edition" => {
            let full = json!({
                "publication_title": "The Bulletin",
                "edition": edition,
                "languages": [{
                    "code": "fr", "name": "Français", "subject": "Le Bulletin n° 3",
                    "text": "La Cour <script>", "html_url": format!("{base}/editions/7/html/fr"),
                }],
                "decide_url": format!("{base}/editions/7/decide"),
                "publication_url": base,
                "csrf": csrf,
            });
            let mut scheduled = full.clone();
            scheduled["edition"]["special"] = json!(false);
            (full, scheduled)
        }
        _ => {
            return [
                "approved",
                "cancelled",
                "built_sent",
                "empty",
                "item_taken",
                "already",
            ]
            .iter()
            .map(|o| {
                with(json!({
                    "outcome": o,
                    "publication_title": "The Bulletin",
                    "publication_url": base,
                    "queued": 12,
                }))
            })
            .collect()
        }
    };
    vec![with(full), with(empty)]
}

/// The account and audit pages: full and empty, each outcome.
fn member_variants(name: &str, with: &dyn Fn(Value) -> Value) -> Vec<Value> {
    let csrf = "5f0e4a9c1b2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f";
    let account_url = "https://lists.example.org/console/account";
    match name {
        "console_account" => {
            let full = json!({
                "subscriptions": [
                    { "name": "info-en", "title": "Coalition Info", "active": true, "language": "Français", "digests": true, "mode": "daily" },
                    { "name": "team-gender", "title": "Gender <Justice>", "active": false, "language": "Français", "digests": true, "mode": "each" },
                    { "name": "bulletin", "title": "The Bulletin", "active": true, "language": "Français", "digests": false, "mode": "each" },
                ],
                "joinable": [
                    { "name": "info-fr", "title": "Info coalition", "description": "Nouvelles <b>de</b> la coalition" },
                    { "name": "info-es", "title": "Info coalición", "description": "" },
                ],
                "member": true,
                "languages": [
                    { "code": "en", "name": "English", "selected": false },
                    { "code": "fr", "name": "Français", "selected": true },
                ],
                "csrf": csrf,
                "leave_url": format!("{account_url}/leave"),
                "join_url": format!("{account_url}/join"),
                "language_url": format!("{account_url}/language"),
                "digest_url": format!("{account_url}/digest"),
                "home_url": "https://lists.example.org/console",
            });
            let mut empty = full.clone();
            empty["subscriptions"] = json!([]);
            empty["joinable"] = json!([]);
            empty["member"] = json!(false);
            vec![with(full), with(empty)]
        }
        "console_account_done" => ["left", "joining", "language", "digest"]
            .iter()
            .map(|o| {
                with(json!({ "outcome": o, "list_title": "Coalition Info", "account_url": account_url }))
            })
            .collect(),
        _ => {
            let audit_url = "https://lists.example.org/console/lists/team-gender/audit";
            let events: Vec<Value> = ["web", "email", "cli", "schedule"]
                .iter()
                .map(|channel| {
                    json!({
                        "at": "2026-12-04 10:00 UTC",
                        "actor": "ana@ngo.example",
                        "channel": channel,
                        "action": "held.reject",
                        "where": "team-gender",
                        "object": "message 17",
                        "detail": "Off <topic>",
                    })
                })
                .collect();
            let full = json!({
                "list_title": "Gender Justice Team",
                "events": events,
                "page": 2,
                "previous_url": audit_url,
                "next_url": format!("{audit_url}?page=3"),
                "home_url": "https://lists.example.org/console",
            });
            let mut empty = full.clone();
            empty["list_title"] = json!("");
            empty["events"] = json!([]);
            empty["page"] = json!(1);
            empty["previous_url"] = json!("");
            empty["next_url"] = json!("");
            vec![with(full), with(empty)]
        }
    }
}

/// The owners' pages of a list: full and empty, each notice and problem.
fn roster_variants(name: &str, with: &dyn Fn(Value) -> Value) -> Vec<Value> {
    let list_url = "https://lists.example.org/console/lists/team-gender";
    let csrf = "5f0e4a9c1b2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f";
    let languages = json!([
        { "code": "en", "name": "English", "selected": false },
        { "code": "ar", "name": "العربية", "selected": true },
    ]);
    let member = json!({
        "address": "ana@ngo.example",
        "name": "Ana <b>",
        "language": "العربية",
        "disabled": true,
        "status": "disabled",
        "score": 5,
        "url": format!("{list_url}/members/17"),
    });
    let home_url = "https://lists.example.org/console";
    let variants = |full: Value, changes: &[(&str, Value)]| -> Vec<Value> {
        let mut out = vec![with(full.clone())];
        for (key, value) in changes {
            let mut changed = full.clone();
            changed[*key] = value.clone();
            out.push(with(changed));
        }
        out
    };
    match name {
        "console_roster" => variants(
            json!({
                "list_name": "team-gender",
                "list_title": "Gender Justice Team",
                "members": [member],
                "total": 120,
                "disabled": 3,
                "search": "ana",
                "matching": 1,
                "previous_url": format!("{list_url}/members?before=ana%40ngo.example"),
                "next_url": format!("{list_url}/members?after=ana%40ngo.example"),
                "first_url": format!("{list_url}/members"),
                "last_url": format!("{list_url}/members?last=1"),
                "done": "added",
                "problem": "",
                "typed": { "address": "", "name": "", "languages": languages },
                "action_url": format!("{list_url}/members"),
                "import_url": format!("{list_url}/members/import"),
                "export_url": format!("{list_url}/members/export"),
                "home_url": home_url,
                "csrf": csrf,
            }),
            &[
                ("members", json!([])),
                ("done", json!("present")),
                ("done", json!("removed")),
                ("problem", json!("address")),
                ("problem", json!("language")),
                ("problem", json!("name")),
                ("search", json!("")),
            ],
        ),
        "console_member" => variants(
            json!({
                "list_title": "Gender Justice Team",
                "member": member,
                "languages": languages,
                "done": "",
                "roster_url": format!("{list_url}/members"),
                "csrf": csrf,
            }),
            &[("done", json!("language")), ("done", json!("reenabled"))],
        ),
        "console_import" => variants(
            json!({
                "list_title": "Gender Justice Team",
                "added": 2,
                "present": 1,
                "skipped": 1,
                "invalid": [{ "line": 4, "problem": "\"x@\" is not an email address" }],
                "roster_url": format!("{list_url}/members"),
            }),
            &[("invalid", json!([]))],
        ),
        "console_requests" => variants(
            json!({
                "list_name": "team-gender",
                "list_title": "Gender Justice Team",
                "requests": [{
                    "address": "ben@ngo.example",
                    "kind": "subscribe",
                    "language": "Français",
                    "received": "2026-12-04 10:00 UTC",
                    "decide_url": format!("{list_url}/requests/9/decide"),
                }],
                "total": 1,
                "page": 1,
                "previous_url": "",
                "next_url": format!("{list_url}/requests?page=2"),
                "outcome": "",
                "home_url": home_url,
                "csrf": csrf,
            }),
            &[
                ("requests", json!([])),
                ("outcome", json!("approve")),
                ("outcome", json!("reject")),
                ("outcome", json!("already")),
            ],
        ),
        "console_bounces" => variants(
            json!({
                "list_name": "team-gender",
                "list_title": "Gender Justice Team",
                "threshold": 5,
                "days": 30,
                "scores": [{ "address": "ana@ngo.example", "score": 5, "disabled": true, "last": "2026-12-04 10:00 UTC" }],
                "domains": [
                    { "domain": "ngo.example", "class": "policy", "count": 3, "detail": "550 5.7.1 blocked" },
                    { "domain": "mail.example", "class": "mailbox", "count": 1, "detail": "" },
                ],
                "complaints": 1,
                "roster_url": format!("{list_url}/members"),
                "home_url": home_url,
            }),
            &[("scores", json!([])), ("domains", json!([]))],
        ),
        _ => variants(
            json!({
                "list_name": "team-gender",
                "list_title": "Gender Justice Team",
                "pending": 10,
                "deferred": 2,
                "sending": 1,
                "sent": 500,
                "failed": 3,
                "oldest_due": "2026-12-04 10:00 UTC",
                "waiting": [{ "state": "held", "count": 2 }],
                "home_url": home_url,
            }),
            &[("oldest_due", json!("")), ("waiting", json!([]))],
        ),
    }
}

/// The held postings' pages: full and empty, each outcome.
fn held_variants(name: &str, with: &dyn Fn(Value) -> Value) -> Vec<Value> {
    let queue_url = "https://lists.example.org/console/lists/team-gender/held";
    match name {
        "console_held_queue" => {
            let full = json!({
                "list_name": "team-gender",
                "list_title": "Gender Justice Team",
                "postings": [{
                    "sender": "ana@ngo.example",
                    "subject": "Meeting <notes>",
                    "received": "2026-12-04 10:00 UTC",
                    "reason": "moderated",
                    "url": format!("{queue_url}/17"),
                }],
                "page": 2,
                "previous_url": queue_url,
                "next_url": format!("{queue_url}?page=3"),
                "home_url": "https://lists.example.org/console",
            });
            let mut empty = full.clone();
            empty["postings"] = json!([]);
            empty["page"] = json!(1);
            empty["previous_url"] = json!("");
            empty["next_url"] = json!("");
            vec![with(full), with(empty)]
        }
        "console_held_posting" => {
            let full = json!({
                "list_title": "Gender Justice Team",
                "from": "Ana <ana@ngo.example>",
                "to": "team-gender@lists.example.org",
                "subject": "Meeting <notes>",
                "date": "2026-12-04T10:00:00Z",
                "received": "2026-12-04 10:00 UTC",
                "reason": "moderated",
                "text": "Dear all,\n<script>alert(1)</script>",
                "html_url": format!("{queue_url}/17/html"),
                "attachments": [{ "name": "plan.pdf", "type": "application/pdf", "size": 1024, "url": format!("{queue_url}/17/attachments/0") }],
                "decide_url": format!("{queue_url}/17/decide"),
                "queue_url": queue_url,
                "csrf": "5f0e4a9c1b2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f",
            });
            let mut plain = full.clone();
            plain["html_url"] = json!("");
            plain["attachments"] = json!([]);
            vec![with(full), with(plain)]
        }
        _ => ["approve", "reject", "discard", "already"]
            .iter()
            .map(|o| {
                with(json!({
                    "outcome": o,
                    "list_title": "Gender Justice Team",
                    "queue_url": queue_url,
                }))
            })
            .collect(),
    }
}

/// Every notice: to people and to publications' editors.
fn all_notices() -> impl Iterator<Item = &'static str> {
    NOTICES.into_iter().chain(EDITOR_NOTICES)
}

fn merge(data: &mut Value, extra: Value) {
    if let (Value::Object(data), Value::Object(extra)) = (data, extra) {
        data.extend(extra);
    }
}

/// Checks that `html` is a complete document whose non-void elements are all
/// closed in order, and that no stray `<` (unescaped text) is left.
fn check_html(what: &str, html: &str) {
    const VOID: [&str; 6] = ["meta", "br", "hr", "img", "input", "link"];
    assert!(
        html.starts_with("<!DOCTYPE html>"),
        "{what}: does not start with <!DOCTYPE html>: {:?}",
        &html[..html.len().min(80)]
    );
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i..];
        let end = rest
            .find('>')
            .unwrap_or_else(|| panic!("{what}: unterminated tag at {rest:.40}"));
        let tag = &rest[1..end];
        if tag.starts_with("!--") {
            let close = rest
                .find("-->")
                .unwrap_or_else(|| panic!("{what}: unterminated comment"));
            rest = &rest[close + 3..];
            continue;
        }
        if tag.starts_with('!') {
            rest = &rest[end + 1..];
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            let open = stack
                .pop()
                .unwrap_or_else(|| panic!("{what}: </{name}> closes nothing"));
            assert_eq!(open, name, "{what}: <{open}> closed by </{name}>");
            rest = &rest[end + 1..];
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        assert!(!name.is_empty(), "{what}: stray '<' at {rest:.40}");
        rest = &rest[end + 1..];
        if name == "style" || name == "script" {
            let close = format!("</{name}>");
            let at = rest
                .find(&close)
                .unwrap_or_else(|| panic!("{what}: <{name}> never closed"));
            rest = &rest[at + close.len()..];
            continue;
        }
        if !VOID.contains(&name.as_str()) && !tag.ends_with('/') {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "{what}: unclosed elements {stack:?}");
}

fn check_direction(what: &str, lang: &str, html: &str) {
    let dir = if lang == "ar" { "rtl" } else { "ltr" };
    assert!(
        html.contains(&format!("<html lang=\"{lang}\" dir=\"{dir}\">")),
        "{what}: lang/dir"
    );
    if lang != "ar" {
        assert!(
            !html.contains("dir=\"rtl\""),
            "{what}: rtl in an ltr document"
        );
    }
    // Hard-coded sides would break the mirrored Arabic layout.
    for side in [
        "text-align:left",
        "text-align:right",
        "-left",
        "-right",
        "float:",
    ] {
        assert!(!html.contains(side), "{what}: contains {side}");
    }
}

fn every_rendering(t: &Templates) -> Vec<(String, String, RenderedNotice)> {
    let mut out = Vec::new();
    for lang in LANGUAGES {
        for name in all_notices() {
            let rendered = t
                .notice(name, lang, &notice_data(name))
                .unwrap_or_else(|e| panic!("{name} in {lang}: {e}"));
            out.push((lang.to_owned(), name.to_owned(), rendered));
        }
    }
    out
}

static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A private copy of the shipped templates that a test may damage.
struct TempTemplates(PathBuf);

impl TempTemplates {
    fn new() -> TempTemplates {
        let dir = std::env::temp_dir().join(format!(
            "notices-templates-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        copy_tree(Path::new(TEMPLATE_DIR), &dir);
        TempTemplates(dir)
    }
}

impl Drop for TempTemplates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn every_notice_renders_in_every_language() {
    let t = shipped();
    for (lang, name, r) in every_rendering(&t) {
        assert_eq!(r.lang, lang, "{name} fell back to English in {lang}");
        assert!(!r.subject.is_empty(), "{name}/{lang}: empty subject");
        assert!(!r.subject.contains(['\r', '\n']), "{name}/{lang}: subject");
        assert!(!r.text.trim().is_empty(), "{name}/{lang}: empty text");
        assert!(!r.html.trim().is_empty(), "{name}/{lang}: empty html");
        assert!(!r.text.contains('\r'), "{name}/{lang}: CR in text");
        for part in [&r.subject, &r.text, &r.html] {
            assert!(!part.contains("{{"), "{name}/{lang}: unrendered braces");
        }
    }
}

#[test]
fn every_page_renders_in_every_language() {
    let t = shipped();
    for lang in LANGUAGES {
        for name in PAGES {
            for data in page_variants(name) {
                let html = t
                    .page(name, lang, &data)
                    .unwrap_or_else(|e| panic!("{name} in {lang}: {e}"));
                let what = format!("page {name}/{lang} {data}");
                check_html(&what, &html);
                check_direction(&what, lang, &html);
                let title = html
                    .split_once("<title>")
                    .and_then(|(_, rest)| rest.split_once("</title>"))
                    .map(|(title, _)| title)
                    .unwrap_or_default();
                assert!(
                    title.len() > " · Gender Justice Team".len(),
                    "{what}: no page title in {title:?}"
                );
                assert!(html.contains("<h1>"), "{what}: no heading");
            }
        }
    }
}

#[test]
fn page_variants_say_different_things() {
    let t = shipped();
    for lang in LANGUAGES {
        for name in [
            "confirm",
            "confirmed",
            "invalid",
            "console_sign_in",
            "console_home",
            "console_signed_out",
            "console_refused",
            "console_held_queue",
            "console_held_posting",
            "console_held_decided",
            "console_publication",
            "console_item",
            "console_edition_build",
            "console_edition",
            "console_editions_outcome",
            "console_account",
            "console_account_done",
            "console_audit",
            "console_roster",
            "console_member",
            "console_requests",
            "archive_lists",
            "archive_message",
            "archive_search",
        ] {
            let rendered: BTreeSet<String> = page_variants(name)
                .iter()
                .map(|d| t.page(name, lang, d).unwrap())
                .collect();
            assert_eq!(rendered.len(), page_variants(name).len(), "{name}/{lang}");
        }
    }
}

#[test]
fn unsubscribe_page_has_one_click_form() {
    let t = shipped();
    for lang in LANGUAGES {
        let html = t
            .page("unsubscribe", lang, &page_variants("unsubscribe")[0])
            .unwrap();
        assert!(html.contains(
            "<form method=\"post\" action=\"https://lists.example.org/confirm/b7k2m9q4x1c8d3f6\">"
        ));
        assert!(
            html.contains("<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">")
        );
        assert!(html.contains("<button type=\"submit\">"));
    }
}

#[test]
fn every_language_ships_every_template() {
    let root = Path::new(TEMPLATE_DIR);
    for lang in LANGUAGES {
        for name in all_notices() {
            for part in ["subject", "txt", "html"] {
                let path = root.join(format!("messages/{lang}/{name}.{part}.hbs"));
                assert!(path.is_file(), "missing {}", path.display());
            }
        }
        for name in PAGES {
            let path = root.join(format!("web/{lang}/{name}.html.hbs"));
            assert!(path.is_file(), "missing {}", path.display());
        }
    }
    let t = shipped();
    for lang in LANGUAGES {
        assert!(t.has_language(lang), "{lang}");
    }
}

#[test]
fn html_notices_are_well_formed_and_directed() {
    let t = shipped();
    for (lang, name, r) in every_rendering(&t) {
        let what = format!("notice {name}/{lang}");
        check_html(&what, &r.html);
        check_direction(&what, &lang, &r.html);
        assert!(r.html.contains("<meta charset=\"utf-8\">"), "{what}");
        // No images or external resources: nothing loads when opened.
        for needle in ["<img", "<link", "src=", "url("] {
            assert!(!r.html.contains(needle), "{what}: contains {needle}");
        }
    }
}

#[test]
fn checker_catches_broken_html() {
    let broken = [
        "<p>no doctype</p>",
        "<!DOCTYPE html><html><p>unclosed</html>",
        "<!DOCTYPE html><html><b><i></b></i></html>",
        "<!DOCTYPE html><html>a < b</html>",
    ];
    for html in broken {
        let result = std::panic::catch_unwind(|| check_html("broken", html));
        assert!(result.is_err(), "accepted {html}");
    }
    check_html(
        "fine",
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>a{}</style></head><body><br><p>x</p></body></html>",
    );
}

#[test]
fn html_templates_never_use_triple_stash() {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            // Publication templates insert their items' rendered Markdown unescaped, on
            // purpose; tests/it/publication_templates.rs checks them.
            if path.ends_with("publications") {
                continue;
            }
            if path.is_dir() {
                walk(&path, found);
            } else if path.to_string_lossy().ends_with(".html.hbs") {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(Path::new(TEMPLATE_DIR), &mut files);
    assert!(
        files.len() >= 2 + 45 + 25,
        "found only {} files",
        files.len()
    );
    for path in files {
        let content = std::fs::read_to_string(&path).unwrap();
        assert!(!content.contains("{{{"), "{} unescapes", path.display());
        assert!(!content.contains("{{&"), "{} unescapes", path.display());
    }
}

#[test]
fn hostile_values_are_escaped_in_html_and_verbatim_in_text() {
    let t = shipped();
    for lang in LANGUAGES {
        for name in all_notices() {
            let mut data = notice_data(name);
            data["list"]["display_name"] = json!(HOSTILE);
            data["list"]["description"] = json!(HOSTILE);
            data["address"] = json!(HOSTILE);
            if name == "rejected" || name == "posting_rejected" {
                data["reason"] = json!(HOSTILE);
            }
            if name == "held_notice" {
                data["sender"] = json!(HOSTILE);
                data["excerpt"] = json!(HOSTILE);
            }
            if [
                "held_notice",
                "posting_rejected",
                "held_expired",
                "delivery_expired",
            ]
            .contains(&name)
            {
                data["subject"] = json!(HOSTILE);
            }
            if name == "command_results" {
                data["results"][0]["command"] = json!(HOSTILE);
            }
            if name == "item_received" {
                data["title"] = json!(HOSTILE);
                data["item"]["section"] = json!(HOSTILE);
                data["item"]["key"] = json!(HOSTILE);
            }
            let r = t.notice(name, lang, &data).unwrap();
            let what = format!("{name}/{lang}");
            assert!(!r.html.contains("<script"), "{what}: html not escaped");
            assert!(
                r.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "{what}"
            );
            assert!(r.html.contains("&quot;&amp;&#x27;"), "{what}");
            check_html(&what, &r.html);
            assert!(r.text.contains(HOSTILE), "{what}: text altered");
        }
        for name in PAGES {
            for mut data in page_variants(name) {
                data["list"]["display_name"] = json!(HOSTILE);
                data["address"] = json!(HOSTILE);
                let html = t.page(name, lang, &data).unwrap();
                let what = format!("page {name}/{lang}");
                assert!(!html.contains("<script"), "{what}: not escaped");
                check_html(&what, &html);
            }
        }
    }
}

#[test]
fn subject_stays_on_one_line() {
    let t = shipped();
    for lang in LANGUAGES {
        for name in all_notices() {
            let mut data = notice_data(name);
            data["list"]["display_name"] = json!("Evil\r\nBcc: victim@example.org\t\n");
            let r = t.notice(name, lang, &data).unwrap();
            assert!(
                !r.subject.contains(['\r', '\n', '\t']),
                "{name}/{lang}: {:?}",
                r.subject
            );
            assert_eq!(r.subject, r.subject.trim());
        }
    }
    assert_eq!(one_line("  a\r\n  b\t\tc \u{2028} d\n"), "a b c d");
    assert_eq!(one_line("plain subject"), "plain subject");
}

#[test]
fn text_is_wrapped_and_urls_stand_alone() {
    let t = shipped();
    for (lang, name, r) in every_rendering(&t) {
        for line in r.text.lines() {
            // Free text from the configuration or from a person is not the
            // templates' to wrap.
            if line.contains("gender justice.") || line.contains("steering committee.") {
                continue;
            }
            if line.contains("://") {
                assert_eq!(
                    line.split_whitespace().count(),
                    1,
                    "{name}/{lang}: URL not alone: {line}"
                );
                continue;
            }
            assert!(
                line.chars().count() <= 76,
                "{name}/{lang}: {} columns: {line}",
                line.chars().count()
            );
        }
    }
}

/// The sentence under each quoted command of a command_results text part.
fn result_sentences(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(command) = line.strip_prefix("> ") {
            let mut sentence = Vec::new();
            while let Some(next) = lines.peek() {
                if next.trim().is_empty() {
                    break;
                }
                sentence.push(next.trim());
                lines.next();
            }
            out.push((command.to_owned(), sentence.join(" ")));
        }
    }
    out
}

#[test]
fn every_command_outcome_has_its_own_sentence() {
    let t = shipped();
    for lang in LANGUAGES {
        let r = t
            .notice("command_results", lang, &notice_data("command_results"))
            .unwrap();
        let sentences = result_sentences(&r.text);
        assert_eq!(sentences.len(), OUTCOMES.len(), "{lang}: {}", r.text);
        let mut seen = BTreeSet::new();
        for ((command, sentence), outcome) in sentences.iter().zip(OUTCOMES) {
            assert_eq!(command, &format!("cmd-{outcome}"));
            assert!(!sentence.is_empty(), "{lang}/{outcome}: no sentence");
            assert!(seen.insert(sentence.clone()), "{lang}/{outcome}: repeated");
            assert!(
                r.html.contains(&format!("cmd-{outcome}")),
                "{lang}/{outcome} missing from html"
            );
        }
        // The owners' address is reachable from inside the loop.
        let closed = &sentences[5].1;
        assert!(
            closed.contains("team-gender-owner@lists.example.org"),
            "{lang}: {closed}"
        );
    }
}

#[test]
fn language_set_names_each_language_in_words() {
    let t = shipped();
    for lang in LANGUAGES {
        let sentences: Vec<String> = LANGUAGES
            .iter()
            .map(|code| {
                let mut data = notice_data("command_results");
                data["results"] =
                    json!([{ "command": "language", "outcome": "language_set", "argument": code }]);
                let r = t.notice("command_results", lang, &data).unwrap();
                result_sentences(&r.text).remove(0).1
            })
            .collect();
        let words = |s: &str| -> BTreeSet<String> {
            s.split_whitespace()
                .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_owned())
                .collect()
        };
        // What differs between the five sentences is the language's name,
        // never its bare code.
        let common = sentences
            .iter()
            .map(|s| words(s))
            .reduce(|a, b| a.intersection(&b).cloned().collect())
            .unwrap_or_default();
        for (sentence, code) in sentences.iter().zip(LANGUAGES) {
            let own: Vec<String> = words(sentence).difference(&common).cloned().collect();
            assert!(!own.is_empty(), "{lang}: {sentence}");
            assert!(
                !own.iter().any(|w| w == code),
                "{lang}: code {code} in {sentence}"
            );
        }
        let distinct: BTreeSet<&String> = sentences.iter().collect();
        assert_eq!(distinct.len(), LANGUAGES.len(), "{lang}: {sentences:?}");
        // An unknown code is never repeated: the sentence is the same without it.
        let mut data = notice_data("command_results");
        data["results"] =
            json!([{ "command": "language", "outcome": "language_unknown", "argument": "" }]);
        let r = t.notice("command_results", lang, &data).unwrap();
        assert!(!result_sentences(&r.text)[0].1.is_empty());
    }
}

/// The reply goes to a From anyone can forge: text that was not recognised is not quoted at
/// all (the daemon passes an empty command), and the reply still says how to get help.
#[test]
fn unrecognised_text_is_not_quoted() {
    let t = shipped();
    for lang in LANGUAGES {
        let mut data = notice_data("command_results");
        data["results"] = json!([{ "command": "", "outcome": "unknown_command", "argument": "" }]);
        let r = t.notice("command_results", lang, &data).unwrap();
        assert!(
            !r.text.lines().any(|line| line.starts_with('>')),
            "{lang}: {}",
            r.text
        );
        assert!(!r.html.contains("<code dir=\"auto\""), "{lang}: {}", r.html);
        let hint = r.text.lines().find(|line| line.contains("help"));
        assert!(
            hint.is_some_and(|line| line.starts_with("  ")),
            "{lang}: {}",
            r.text
        );
        assert!(r.html.contains(">help</code>"), "{lang}: {}", r.html);
        check_html(&format!("command_results/{lang}"), &r.html);
    }
}

#[test]
fn optional_parts_follow_the_data() {
    let t = shipped();
    for lang in LANGUAGES {
        // Rejected without a reason, welcome for an open announcement list
        // without a description.
        let mut data = notice_data("rejected");
        data["reason"] = json!("");
        let without = t.notice("rejected", lang, &data).unwrap();
        let with = t
            .notice("rejected", lang, &notice_data("rejected"))
            .unwrap();
        assert!(with.text.contains("steering committee"));
        assert!(with.text.len() > without.text.len(), "{lang}");
        assert!(!without.text.contains("\n\n\n"), "{lang}: blank lines");

        let mut data = notice_data("welcome");
        data["list"]["members_may_post"] = json!(false);
        data["list"]["confidential"] = json!(false);
        data["list"]["description"] = json!("");
        let plain = t.notice("welcome", lang, &data).unwrap();
        let full = t.notice("welcome", lang, &notice_data("welcome")).unwrap();
        assert_ne!(plain.text, full.text);
        assert!(!plain.text.contains("gender justice"), "{lang}");
        assert!(full.text.contains("gender justice"), "{lang}");
        assert!(!plain.text.contains("\n\n\n"), "{lang}: blank lines");
        check_html(&format!("welcome/{lang}"), &plain.html);

        for days in [1, 2, 5, 11, 30, 100] {
            let mut data = notice_data("confirm_subscribe");
            data["expires_days"] = json!(days);
            let r = t.notice("confirm_subscribe", lang, &data).unwrap();
            assert!(!r.text.contains("{{"), "{lang}");
        }
    }
}

#[test]
fn unknown_language_falls_back_to_english() {
    let t = shipped();
    assert!(!t.has_language("xx"));
    let r = t.notice("welcome", "xx", &notice_data("welcome")).unwrap();
    assert_eq!(r.lang, "en");
    assert!(r.html.contains("<html lang=\"en\" dir=\"ltr\">"));
    let english = t.notice("welcome", "en", &notice_data("welcome")).unwrap();
    assert_eq!(r, english);
    let page = t
        .page("invalid", "xx", &page_variants("invalid")[0])
        .unwrap();
    assert_eq!(
        page,
        t.page("invalid", "en", &page_variants("invalid")[0])
            .unwrap()
    );
}

#[test]
fn missing_file_falls_back_to_english_for_that_notice_only() {
    let dir = TempTemplates::new();
    std::fs::remove_file(dir.0.join("messages/fr/goodbye.txt.hbs")).unwrap();
    std::fs::remove_file(dir.0.join("messages/ar/help.html.hbs")).unwrap();
    std::fs::remove_file(dir.0.join("web/fr/invalid.html.hbs")).unwrap();
    let t = Templates::load(&dir.0).unwrap();
    assert!(t.has_language("fr"));

    let goodbye = t.notice("goodbye", "fr", &notice_data("goodbye")).unwrap();
    let english = t.notice("goodbye", "en", &notice_data("goodbye")).unwrap();
    assert_eq!(goodbye, english, "the whole notice comes from English");
    let welcome = t.notice("welcome", "fr", &notice_data("welcome")).unwrap();
    assert_eq!(welcome.lang, "fr");

    // An Arabic reader given the English fallback gets a left-to-right body.
    let help = t.notice("help", "ar", &notice_data("help")).unwrap();
    assert_eq!(help.lang, "en");
    assert!(help.html.contains("dir=\"ltr\""));

    let data = &page_variants("invalid")[1];
    let page = t.page("invalid", "fr", data).unwrap();
    assert!(page.contains("<html lang=\"en\""));
    assert!(t
        .page("confirmed", "fr", &page_variants("confirmed")[0])
        .unwrap()
        .contains("<html lang=\"fr\""));
}

#[test]
fn missing_english_template_is_an_error_naming_it() {
    let dir = TempTemplates::new();
    std::fs::remove_file(dir.0.join("messages/en/help.subject.hbs")).unwrap();
    match Templates::load(&dir.0) {
        Err(e @ TemplateError::MissingEnglish { .. }) => {
            assert!(
                e.to_string().contains("messages/en/help.subject.hbs"),
                "{e}"
            );
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("loaded without English help subject"),
    }

    let dir = TempTemplates::new();
    std::fs::remove_file(dir.0.join("web/en/confirm.html.hbs")).unwrap();
    let e = Templates::load(&dir.0).expect_err("must fail");
    assert!(e.to_string().contains("web/en/confirm.html.hbs"), "{e}");
}

#[test]
fn syntax_and_read_errors_name_the_file() {
    let dir = TempTemplates::new();
    let broken = dir.0.join("messages/pt/welcome.txt.hbs");
    std::fs::write(&broken, "{{#if list.confidential}}never closed\n").unwrap();
    let e = Templates::load(&dir.0).expect_err("must fail");
    assert!(
        matches!(e, TemplateError::File(FileError::Syntax { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("messages/pt/welcome.txt.hbs"), "{e}");

    let missing = Path::new("/nonexistent/tidings-templates");
    let e = Templates::load(missing).expect_err("must fail");
    assert!(
        e.to_string().contains("/nonexistent/tidings-templates"),
        "{e}"
    );
}

#[test]
fn render_errors_name_template_and_language() {
    let t = shipped();
    let mut data = notice_data("goodbye");
    data["list"].as_object_mut().unwrap().remove("join_address");
    let e = t.notice("goodbye", "es", &data).expect_err("strict mode");
    let message = e.to_string();
    assert!(message.contains("messages/es/goodbye"), "{message}");
    assert!(message.contains("\"es\""), "{message}");

    let e = t
        .notice("goodbye", "es", &json!([1, 2]))
        .expect_err("not an object");
    assert!(matches!(e, TemplateError::DataNotObject { .. }), "{e}");
    let e = t
        .notice("nonexistent", "en", &notice_data("help"))
        .expect_err("unknown");
    assert!(matches!(e, TemplateError::Unknown { .. }), "{e}");
    let e = t
        .page("nonexistent", "en", &json!({}))
        .expect_err("unknown");
    assert!(matches!(e, TemplateError::Unknown { .. }), "{e}");
}

#[test]
fn injected_language_overrides_caller_data() {
    let t = shipped();
    let mut data = notice_data("help");
    data["lang"] = json!("fr");
    data["dir"] = json!("rtl");
    let r = t.notice("help", "ar", &data).unwrap();
    assert!(r.html.contains("<html lang=\"ar\" dir=\"rtl\">"));
    let r = t.notice("help", "en", &data).unwrap();
    assert!(r.html.contains("<html lang=\"en\" dir=\"ltr\">"));
}

#[test]
fn pages_cope_with_a_link_naming_no_list() {
    // A forged link may name no real list: the daemon then passes an empty
    // name and address.
    let t = shipped();
    for lang in LANGUAGES {
        for reason in ["forged", "expired", "used"] {
            let data = json!({
                "list": { "display_name": "", "address": "" },
                "address": "",
                "reason": reason,
            });
            let html = t.page("invalid", lang, &data).unwrap();
            let what = format!("invalid/{lang}/{reason} without list");
            check_html(&what, &html);
            assert!(!html.contains(" · </title>"), "{what}");
            assert!(!html.contains("class=\"list\""), "{what}");
        }
    }
}

const HOLD_REASONS: [&str; 6] = [
    "moderated",
    "sender_filter",
    "too_big",
    "attachment_type",
    "attachment_too_big",
    "not_member",
];

#[test]
fn every_hold_reason_has_its_own_sentence() {
    let t = shipped();
    for lang in LANGUAGES {
        let mut texts = BTreeSet::new();
        let mut htmls = BTreeSet::new();
        for reason in HOLD_REASONS {
            let mut data = notice_data("held_notice");
            data["reason"] = json!(reason);
            let r = t.notice("held_notice", lang, &data).unwrap();
            assert_eq!(r.lang, lang);
            texts.insert(r.text.clone());
            htmls.insert(r.html.clone());
            check_html(&format!("held_notice/{lang}/{reason}"), &r.html);
            for needle in [
                "tidings held approve 42",
                "tidings held reject 42",
                "tidings held discard 42",
                "team-gender-confirm+m4d8k2w7p3@lists.example.org",
                "omar.haddad@example.net",
                "regional meeting in Dakar.",
                "approve",
                "reject",
                "discard",
                "42",
            ] {
                assert!(
                    r.text.contains(needle),
                    "{lang}/{reason}: text lacks {needle}"
                );
                assert!(
                    r.html.contains(needle),
                    "{lang}/{reason}: html lacks {needle}"
                );
            }
        }
        assert_eq!(
            texts.len(),
            HOLD_REASONS.len(),
            "{lang}: text sentences repeat"
        );
        assert_eq!(
            htmls.len(),
            HOLD_REASONS.len(),
            "{lang}: html sentences repeat"
        );
    }
}

#[test]
fn moderation_notices_cope_with_missing_parts() {
    let t = shipped();
    for lang in LANGUAGES {
        // No subject and no excerpt.
        let mut data = notice_data("held_notice");
        data["subject"] = json!("");
        data["excerpt"] = json!("");
        let bare = t.notice("held_notice", lang, &data).unwrap();
        let full = t
            .notice("held_notice", lang, &notice_data("held_notice"))
            .unwrap();
        assert!(!bare.text.contains("Dakar"), "{lang}");
        assert!(!bare.html.contains("Dakar"), "{lang}");
        assert!(full.text.len() > bare.text.len(), "{lang}");
        assert!(!bare.text.contains("\n\n\n"), "{lang}: blank lines");
        assert!(!full.text.contains("\n\n\n"), "{lang}: blank lines");
        check_html(&format!("held_notice/{lang} bare"), &bare.html);

        // Rejected without a reason and without a subject.
        let mut data = notice_data("posting_rejected");
        data["reason"] = json!("");
        data["subject"] = json!("");
        let without = t.notice("posting_rejected", lang, &data).unwrap();
        let with = t
            .notice("posting_rejected", lang, &notice_data("posting_rejected"))
            .unwrap();
        assert!(with.text.contains("steering committee"), "{lang}");
        assert!(!without.text.contains("steering committee"), "{lang}");
        assert!(
            with.text.contains("team-gender-owner@lists.example.org"),
            "{lang}"
        );
        assert!(
            with.html
                .contains("mailto:team-gender-owner@lists.example.org"),
            "{lang}"
        );
        assert!(!without.text.contains("\n\n\n"), "{lang}: blank lines");
        check_html(&format!("posting_rejected/{lang} bare"), &without.html);

        let r = t
            .notice("held_expired", lang, &notice_data("held_expired"))
            .unwrap();
        assert!(
            r.text.contains("team-gender-owner@lists.example.org"),
            "{lang}"
        );
        assert!(r.text.contains("Draft statement"), "{lang}");

        for days in [1, 2, 5, 11, 30, 100] {
            for name in ["held_notice", "held_expired"] {
                let mut data = notice_data(name);
                data["expires_days"] = json!(days);
                let r = t.notice(name, lang, &data).unwrap();
                if days != 1 && days != 2 || lang != "ar" {
                    assert!(
                        r.text.contains(&days.to_string()),
                        "{name}/{lang}: {days} days missing"
                    );
                }
            }
        }
    }
}

/// What an item's editor is told when it was not accepted.
fn item_refused() -> Value {
    let mut data = notice_data("item_received");
    data["accepted"] = json!(false);
    data["item"] = Value::Null;
    data["cli_remove"] = Value::Null;
    data["problem"] = json!("Gender Justice Team is written in en, fr, es, not \"pt\"");
    data
}

#[test]
fn item_acknowledgements_say_what_happened() {
    let t = shipped();
    for lang in LANGUAGES {
        let accepted = t
            .notice("item_received", lang, &notice_data("item_received"))
            .unwrap();
        let refused = t.notice("item_received", lang, &item_refused()).unwrap();
        assert_ne!(accepted.subject, refused.subject, "{lang}");
        for part in [&accepted.text, &accepted.html] {
            assert!(part.contains("tidings items remove 7"), "{lang}");
            assert!(part.contains("rome-statute-30"), "{lang}");
            assert!(part.contains("Campaigns"), "{lang}");
        }
        for part in [&refused.text, &refused.html] {
            assert!(!part.contains("tidings items remove"), "{lang}");
            assert!(part.contains("en, fr, es"), "{lang}");
        }
        assert!(refused.text.contains("not \"pt\""), "{lang}");
        // The lead-line keywords are read in English whatever the language.
        assert!(accepted.text.contains("Key:"), "{lang}");
        assert!(refused.text.contains("Language:"), "{lang}");
        for r in [&accepted, &refused] {
            assert!(r.subject.contains("Rome Statute at 30"), "{lang}");
            assert!(!r.text.contains("\n\n\n"), "{lang}: blank lines");
        }
        check_html(&format!("item_received/{lang} refused"), &refused.html);
        check_direction(
            &format!("item_received/{lang} refused"),
            lang,
            &refused.html,
        );

        let mut hostile = item_refused();
        hostile["problem"] = json!(HOSTILE);
        let r = t.notice("item_received", lang, &hostile).unwrap();
        assert!(!r.html.contains("<script"), "{lang}");
        assert!(r.text.contains(HOSTILE), "{lang}");
    }
}

#[test]
fn edition_notices_count_in_words_of_their_language() {
    let t = shipped();
    for lang in LANGUAGES {
        // One item is not several: each language says it its own way.
        let render = |name: &str, key: &str, n: i64| {
            let mut data = notice_data(name);
            data[key] = json!(n);
            t.notice(name, lang, &data).unwrap()
        };
        let texts: Vec<String> = [1, 2, 5, 11]
            .iter()
            .map(|&n| render("edition_preview", "items", n).text)
            .collect();
        for text in &texts {
            assert!(text.contains("team-gender-confirm+e5t8y2u6i9@"), "{lang}");
            assert!(text.contains("tidings editions approve 3"), "{lang}");
            assert!(text.contains("tidings editions cancel 3"), "{lang}");
        }
        if lang != "ar" {
            assert!(texts[2].contains('5'), "{lang}");
            assert_ne!(texts[0], texts[2].replace('5', "1"), "{lang}: plural");
        }
        assert!(texts[3].contains("11"), "{lang}");

        let once = render("edition_caught_up", "skipped", 1);
        let thrice = render("edition_caught_up", "skipped", 3);
        let alone = render("edition_caught_up", "skipped", 0);
        assert!(thrice.text.contains('3'), "{lang}");
        assert!(alone.text.len() < once.text.len(), "{lang}");
        assert!(!alone.text.contains("\n\n\n"), "{lang}: blank lines");
        assert!(
            !alone.html.contains("<p style=\"margin:0 0 16px;\"></p>"),
            "{lang}"
        );
        let mut data = notice_data("edition_caught_up");
        data["built"] = json!(false);
        let nothing = t.notice("edition_caught_up", lang, &data).unwrap();
        assert_ne!(nothing.text, once.text, "{lang}");
        for r in [&once, &thrice, &alone, &nothing] {
            assert!(r.text.contains("2027-03-01 09:00 CET"), "{lang}");
            assert!(r.subject.contains("2027-03-01 09:00 CET"), "{lang}");
            check_html(&format!("edition_caught_up/{lang}"), &r.html);
        }

        let empty = t
            .notice("edition_empty", lang, &notice_data("edition_empty"))
            .unwrap();
        for part in [&empty.text, &empty.html] {
            assert!(
                part.contains("tidings editions build team-gender"),
                "{lang}"
            );
            assert!(part.contains("2027-03-01 09:00 CET"), "{lang}");
        }
    }
}
