//! Bearer tokens → actor and role.
//!
//! The tokens file (JSON, `--tokens-file`, default `<data dir>/tokens.json`) stores only
//! the BLAKE3 hash of each token, the actor id, the role, when it was issued and when it
//! expires; `crisisd token add` prints a new token once and appends its hash, `token
//! list` shows the entries (by id: the first 12 hex digits of the hash), `token revoke`
//! removes one. A running `serve` reloads the file when it changes (open SSE streams
//! keep going). The actor recorded in every event comes from the token, never from a
//! request body. Auditors see personal data only when their entry says
//! `"personal_data": true`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::problem::Problem;
use crate::domain::common::{Actor, Role};

/// Prefix that makes crisisd tokens recognisable in logs and secret scanners.
const TOKEN_PREFIX: &str = "crisisd_";

/// One entry of the tokens file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// Hex BLAKE3 hash of the token.
    pub hash: String,
    pub actor: String,
    pub role: Role,
    /// Lets an auditor see personal data unredacted (other roles always see it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub personal_data: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// After this instant the token is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl TokenEntry {
    /// The entry's id in `token list` and `token revoke`: the hash's first 12 hex digits
    /// (not secret: the token cannot be recovered from it).
    pub fn id(&self) -> &str {
        &self.hash[..self.hash.len().min(12)]
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensFile {
    pub tokens: Vec<TokenEntry>,
}

/// Who is calling, as the token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub actor: Actor,
    /// Personal data is shown to this caller.
    pub sees_personal_data: bool,
    /// The hash of the token it came with: a long-lived response (the live stream)
    /// checks it is still valid.
    pub token_hash: String,
}

impl Caller {
    /// 403 unless the caller has one of `roles` (admins may do everything).
    pub fn require(&self, roles: &[Role]) -> Result<(), Problem> {
        if self.actor.role == Role::Admin || roles.contains(&self.actor.role) {
            return Ok(());
        }
        Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "role {} may not do this; it needs one of: {}",
                role_name(self.actor.role),
                roles
                    .iter()
                    .map(|r| role_name(*r))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }
}

pub fn role_name(role: Role) -> String {
    serde_json::to_value(role)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The loaded tokens file: hash → entry.
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    by_hash: HashMap<String, TokenEntry>,
}

impl Tokens {
    /// Reads the tokens file; a missing file means no tokens (every request is 401).
    pub fn load(path: &Path) -> Result<Tokens, String> {
        let file = read_file(path)?;
        Ok(Tokens::from_entries(file.tokens))
    }

    pub fn from_entries(entries: impl IntoIterator<Item = TokenEntry>) -> Tokens {
        Tokens {
            by_hash: entries.into_iter().map(|e| (e.hash.clone(), e)).collect(),
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The caller `token` stands for at `now`, or why it is refused.
    fn caller(&self, token: &str, now: DateTime<Utc>) -> Result<Caller, String> {
        let hash = hash_token(token);
        let entry = self.entry(&hash, now)?;
        Ok(Caller {
            actor: Actor {
                id: entry.actor.clone(),
                role: entry.role,
            },
            sees_personal_data: entry.role != Role::Auditor || entry.personal_data,
            token_hash: hash,
        })
    }

    /// Whether the token hashed `hash` still stands at `now` (not revoked, not
    /// expired), or why not.
    pub fn check(&self, hash: &str, now: DateTime<Utc>) -> Result<(), String> {
        self.entry(hash, now).map(|_| ())
    }

    fn entry(&self, hash: &str, now: DateTime<Utc>) -> Result<&TokenEntry, String> {
        let entry = self
            .by_hash
            .get(hash)
            .ok_or("the token is not valid; ask an admin for a new one")?;
        if let Some(expired) = entry.expires_at.filter(|at| *at <= now) {
            return Err(format!(
                "the token expired at {}; ask an admin for a new one",
                expired.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
        }
        Ok(entry)
    }
}

pub fn hash_token(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

/// A new random token (244 bits from the OS generator).
pub fn new_token() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("{TOKEN_PREFIX}{a}{b}")
}

fn read_file(path: &Path) -> Result<TokensFile, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|err| {
            format!(
                "tokens file {} is not valid: {err}; fix it or recreate it with `crisisd token add`",
                path.display()
            )
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(TokensFile::default()),
        Err(err) => Err(format!("cannot read tokens file {}: {err}", path.display())),
    }
}

/// Adds a token for `actor` with `role` to the file (created with mode 0600 if
/// missing, replaced atomically) and returns the token, which is stored nowhere.
pub fn add_token(
    path: &Path,
    actor: &str,
    role: Role,
    personal_data: bool,
    expires_at: Option<DateTime<Utc>>,
) -> Result<String, String> {
    if actor.trim().is_empty() {
        return Err("--actor must name who uses the token (e.g. lead-anna)".into());
    }
    let mut file = read_file(path)?;
    let token = new_token();
    file.tokens.push(TokenEntry {
        hash: hash_token(&token),
        actor: actor.to_owned(),
        role,
        personal_data,
        created_at: Some(Utc::now()),
        expires_at,
    });
    write_file(path, &file)?;
    Ok(token)
}

fn write_file(path: &Path, file: &TokensFile) -> Result<(), String> {
    let text = serde_json::to_string_pretty(file).map_err(|e| e.to_string())?;
    write_private(path, text.as_bytes())
        .map_err(|err| format!("cannot write tokens file {}: {err}", path.display()))
}

/// The file's entries.
pub fn list_tokens(path: &Path) -> Result<Vec<TokenEntry>, String> {
    Ok(read_file(path)?.tokens)
}

/// Removes the one entry whose id starts with `id` (at least 6 hex digits), and returns it.
pub fn revoke_token(path: &Path, id: &str) -> Result<TokenEntry, String> {
    if id.len() < 6 {
        return Err(format!(
            "give at least 6 digits of the token id ({id:?} is too short to be sure); `crisisd token list` shows them"
        ));
    }
    let mut file = read_file(path)?;
    let matching: Vec<usize> = (0..file.tokens.len())
        .filter(|&i| file.tokens[i].hash.starts_with(id))
        .collect();
    let index = match matching[..] {
        [index] => index,
        [] => {
            return Err(format!(
                "no token with id {id} in {}; `crisisd token list` shows them",
                path.display()
            ));
        }
        _ => return Err(format!("{id} matches several tokens; give more digits")),
    };
    let removed = file.tokens.remove(index);
    write_file(path, &file)?;
    Ok(removed)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp: PathBuf = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("tokens")
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let unauthorized = |detail: &str| {
            Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail).field("Authorization")
        };
        let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            unauthorized("send `Authorization: Bearer <token>`; `crisisd token add` issues tokens")
        })?;
        // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` is `Bearer`.
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.trim_start().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
        state
            .tokens()
            .caller(token, Utc::now())
            .map_err(|why| unauthorized(&why))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_tokens_are_stored_hashed_and_resolve_to_their_actor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let token = add_token(&path, "lead-anna", Role::CrisisLead, false, None).unwrap();
        let auditor = add_token(&path, "audit-1", Role::Auditor, false, None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&token), "the token itself is never stored");
        let tokens = Tokens::load(&path).unwrap();
        assert_eq!(tokens.len(), 2);
        let now = Utc::now();
        let caller = tokens.caller(&token, now).unwrap();
        assert_eq!(caller.actor.id, "lead-anna");
        assert!(caller.sees_personal_data);
        assert!(!tokens.caller(&auditor, now).unwrap().sees_personal_data);
        assert!(tokens.caller("crisisd_guess", now).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "tokens file is private");
        }
    }

    #[test]
    fn a_broken_tokens_file_is_refused_with_a_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = Tokens::load(&path).unwrap_err();
        assert!(err.contains("crisisd token add"), "{err}");
        assert!(
            Tokens::load(&dir.path().join("missing.json"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn admins_pass_every_role_check_and_others_only_theirs() {
        let caller = |role| Caller {
            actor: Actor {
                id: "x".into(),
                role,
            },
            sees_personal_data: true,
            token_hash: String::new(),
        };
        assert!(caller(Role::Admin).require(&[Role::Agent]).is_ok());
        assert!(
            caller(Role::Agent)
                .require(&[Role::Agent, Role::CrisisLead])
                .is_ok()
        );
        let refused = caller(Role::Auditor)
            .require(&[Role::CrisisLead])
            .unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.detail.contains("crisis_lead"), "{}", refused.detail);
    }

    /// Tokens expire, are listed by id and revoked by a prefix of it.
    #[test]
    fn tokens_expire_and_are_revoked_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let soon = Utc::now() + chrono::Duration::minutes(5);
        let token = add_token(&path, "agent-7", Role::Agent, false, Some(soon)).unwrap();
        let keep = add_token(&path, "lead-anna", Role::CrisisLead, false, None).unwrap();
        let tokens = Tokens::load(&path).unwrap();
        assert!(tokens.caller(&token, Utc::now()).is_ok());
        let later = soon + chrono::Duration::seconds(1);
        let refused = tokens.caller(&token, later).unwrap_err();
        assert!(refused.contains("expired"), "{refused}");
        let listed = list_tokens(&path).unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed[0].created_at.is_some());
        let id = listed[0].id().to_owned();
        assert!(
            revoke_token(&path, &id[..4])
                .unwrap_err()
                .contains("at least 6")
        );
        assert_eq!(revoke_token(&path, &id[..8]).unwrap().actor, "agent-7");
        let tokens = Tokens::load(&path).unwrap();
        assert!(tokens.caller(&token, Utc::now()).is_err(), "revoked");
        assert!(tokens.caller(&keep, Utc::now()).is_ok());
        assert!(
            revoke_token(&path, &id[..8])
                .unwrap_err()
                .contains("no token")
        );
    }
}
