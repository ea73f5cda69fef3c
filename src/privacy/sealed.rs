//! The sealed form of one personal-data value: a JSON string that names its key, its
//! event and its field, and holds the XChaCha20-Poly1305 ciphertext of the plaintext.
//!
//! ```text
//! pd:v1:<key id>:<event id>:<field>:<base64url(nonce ‖ ciphertext ‖ tag)>
//! pd:v1:p.FF123~3fa2c9d1:0193a3c1e8e07c2d9f4b8a1e6d2c5b70:/contact/email:Rk9v…
//! ```
//!
//! - `key id`: the data subject (`p.<passenger id>`, or `s.<signal uuid>` for feedback
//!   from someone not identified) and, after `~`, the id of that subject's data key: a
//!   key created after an erasure has another id, so nothing sealed under the destroyed
//!   key is ever tried with the new one.
//! - `event id` (32 hex digits) and `field` (a JSON pointer into the event's data): where
//!   the value was sealed. Everything before the base64 part is the AEAD's associated
//!   data, so a sealed value moved to another event or field, or relabelled, does not
//!   open: [`open`] also checks the event and field it is read in, when known.
//! - The nonce is 24 random bytes (XChaCha20), so random nonces never collide in practice.
//!
//! The value stays a JSON string, so event schemas, canonical JSON (the hash chain
//! covers the sealed form) and outside consumers keep working unchanged.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use uuid::Uuid;

/// What every sealed value starts with.
pub const PREFIX: &str = "pd:v1:";
/// Bytes of a nonce.
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;

/// A 256-bit symmetric key (data key, epoch key or master key).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub [u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<secret>)")
    }
}

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn random() -> SecretKey {
        SecretKey(random_bytes())
    }
}

/// Random bytes from a cryptographically secure generator (the thread's ChaCha
/// generator, seeded and reseeded from the operating system: no system call per nonce).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// AEAD encryption: `nonce ‖ ciphertext ‖ tag`.
pub fn encrypt(key: &SecretKey, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let nonce: [u8; NONCE_BYTES] = random_bytes();
    // One buffer, encrypted in place: nonce ‖ plaintext → nonce ‖ ciphertext ‖ tag.
    let mut out = Vec::with_capacity(NONCE_BYTES + plaintext.len() + TAG_BYTES);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = XChaCha20Poly1305::new(Key::from_slice(&key.0))
        .encrypt_in_place_detached(XNonce::from_slice(&nonce), aad, &mut out[NONCE_BYTES..])
        .expect("XChaCha20-Poly1305 encrypts any length a JSON value has");
    out.extend_from_slice(&tag);
    out
}

/// AEAD decryption of `nonce ‖ ciphertext ‖ tag`; `None` when it does not authenticate.
pub fn decrypt(key: &SecretKey, sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_BYTES + TAG_BYTES {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
    XChaCha20Poly1305::new(Key::from_slice(&key.0))
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
}

/// The parts of a sealed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed<'a> {
    /// `<subject>~<key serial>`.
    pub key_id: &'a str,
    pub event_id: Uuid,
    pub field: &'a str,
    /// Everything before the base64 part: the associated data.
    header: &'a str,
    body: &'a str,
}

impl<'a> Sealed<'a> {
    /// Reads a sealed value; `None` when `text` is not one.
    pub fn parse(text: &'a str) -> Option<Sealed<'a>> {
        let rest = text.strip_prefix(PREFIX)?;
        let (key_id, rest) = rest.split_once(':')?;
        let (event, rest) = rest.split_once(':')?;
        let split = rest.rfind(':')?;
        let (field, body) = (&rest[..split], &rest[split + 1..]);
        let header = &text[..text.len() - body.len()];
        Some(Sealed {
            key_id,
            event_id: Uuid::try_parse(event).ok()?,
            field,
            header,
            body,
        })
    }

    /// The subject part of the key id.
    pub fn subject(&self) -> &'a str {
        self.key_id.split_once('~').map_or(self.key_id, |(s, _)| s)
    }
}

/// Whether a JSON string holds a sealed value (cheap: the prefix only).
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(PREFIX)
}

/// Seals `plaintext` (the JSON text of the value) under `key`, for `field` of event
/// `event_id`, naming the key `key_id`.
pub fn seal(
    key: &SecretKey,
    key_id: &str,
    event_id: Uuid,
    field: &str,
    plaintext: &[u8],
) -> String {
    // One allocation for the whole value: the header, then the base64 body after it.
    // <prefix><key id>:<event id, 32 hex digits>:<field>:
    let header = PREFIX.len() + key_id.len() + 1 + 32 + 1 + field.len() + 1;
    let body = NONCE_BYTES + plaintext.len() + TAG_BYTES;
    let mut sealed = String::with_capacity(header + body.div_ceil(3) * 4);
    for part in [
        PREFIX,
        key_id,
        ":",
        event_id.simple().encode_lower(&mut Uuid::encode_buffer()),
        ":",
        field,
        ":",
    ] {
        sealed.push_str(part);
    }
    let body = encrypt(key, plaintext, sealed.as_bytes());
    URL_SAFE_NO_PAD.encode_string(body, &mut sealed);
    sealed
}

/// Why a sealed value did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unopened {
    /// Its key is gone: erased.
    Erased,
    /// Its key was never held here.
    Unavailable,
    /// It does not authenticate, or it was read in another event or field than it was
    /// sealed for: tampered with or moved.
    Tampered,
}

/// Opens a sealed value with `key`: the plaintext JSON text. `expected` is the event
/// and field it is read in, when the caller knows them (an envelope's data).
pub fn open(
    sealed: &Sealed<'_>,
    key: &SecretKey,
    expected: Option<(Uuid, &str)>,
) -> Result<Vec<u8>, Unopened> {
    if let Some((event_id, field)) = expected
        && (event_id != sealed.event_id || field != sealed.field)
    {
        return Err(Unopened::Tampered);
    }
    let body = URL_SAFE_NO_PAD
        .decode(sealed.body)
        .map_err(|_| Unopened::Tampered)?;
    decrypt(key, &body, sealed.header.as_bytes()).ok_or(Unopened::Tampered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_where_it_was_sealed() {
        let key = SecretKey::random();
        let event = Uuid::from_u128(7);
        let text = seal(
            &key,
            "p.FF1~0a0b0c0d",
            event,
            "/contact/email",
            b"\"ada@example.org\"",
        );
        assert!(is_sealed(&text));
        assert!(!text.contains("ada"), "{text}");
        let sealed = Sealed::parse(&text).unwrap();
        assert_eq!(
            (
                sealed.key_id,
                sealed.subject(),
                sealed.event_id,
                sealed.field
            ),
            ("p.FF1~0a0b0c0d", "p.FF1", event, "/contact/email")
        );
        let plain = open(&sealed, &key, Some((event, "/contact/email"))).unwrap();
        assert_eq!(plain, b"\"ada@example.org\"");
        assert_eq!(
            open(&sealed, &key, None).unwrap(),
            plain,
            "a read model's copy"
        );
        // Read in another event or field: refused before decrypting.
        assert_eq!(
            open(&sealed, &key, Some((Uuid::from_u128(8), "/contact/email"))),
            Err(Unopened::Tampered)
        );
        assert_eq!(
            open(&sealed, &key, Some((event, "/contact/name"))),
            Err(Unopened::Tampered)
        );
        // Relabelled to claim another event or field: the associated data no longer matches.
        let moved = text.replace(
            &event.simple().to_string(),
            &Uuid::from_u128(8).simple().to_string(),
        );
        let moved = Sealed::parse(&moved).unwrap();
        assert_eq!(open(&moved, &key, None), Err(Unopened::Tampered));
        let renamed = text.replace("/contact/email", "/contact/name");
        assert_eq!(
            open(&Sealed::parse(&renamed).unwrap(), &key, None),
            Err(Unopened::Tampered)
        );
        assert_eq!(
            open(&sealed, &SecretKey::random(), None),
            Err(Unopened::Tampered),
            "another key"
        );
        // Two seals of one value differ (random nonces).
        assert_ne!(
            text,
            seal(
                &key,
                "p.FF1~0a0b0c0d",
                event,
                "/contact/email",
                b"\"ada@example.org\""
            )
        );
    }

    #[test]
    fn what_is_not_a_sealed_value_is_not_read_as_one() {
        for text in [
            "",
            "pd:v1:",
            "pd:v1:k:notauuid:/f:AAAA",
            "hello",
            "pd:v2:k:00000000000000000000000000000007:/f:AA",
        ] {
            assert!(Sealed::parse(text).is_none(), "{text}");
        }
    }
}
