//! Optional Ed25519 device identity, stored in a 0600 JSON file and created on first use.
//!
//! Matches OpenClaw's gateway client: the device id is the SHA-256 hex of the raw 32-byte
//! public key, the public key and signature travel as unpadded base64url, and the signed text is
//! `v3|deviceId|clientId|clientMode|role|scopesCSV|signedAtMs|token|nonce|platform|deviceFamily`
//! with platform and device family trimmed and lower-cased.

use crate::error::{EngineError, EngineResult};
use crate::state::file::durable::{ensure_dir, fsync_dir, FILE_MODE};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A device key pair. `Debug` shows the device id only.
#[derive(Clone)]
pub struct DeviceIdentity {
    key: SigningKey,
    device_id: String,
}

impl std::fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceIdentity")
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

/// What the identity file holds.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityFile {
    version: u32,
    device_id: String,
    /// Raw public key, unpadded base64url.
    public_key: String,
    /// Raw 32-byte private key seed, unpadded base64url.
    private_key: String,
}

/// The fields a device signature covers (besides the device id).
#[derive(Debug, Clone, PartialEq)]
pub struct SignedFields<'a> {
    /// `client.id`.
    pub client_id: &'a str,
    /// `client.mode`.
    pub client_mode: &'a str,
    /// The connect role, `operator`.
    pub role: &'a str,
    /// Requested scopes (joined with `,`).
    pub scopes: &'a [String],
    /// Signature time (epoch ms), also sent as `device.signedAt`.
    pub signed_at_ms: i64,
    /// `auth.token`, empty when connecting with a password only.
    pub token: &'a str,
    /// The `connect.challenge` nonce.
    pub nonce: &'a str,
    /// `client.platform`.
    pub platform: &'a str,
    /// `client.deviceFamily`, empty when not sent.
    pub device_family: &'a str,
}

/// The v3 device-auth payload text the gateway verifies.
pub fn device_auth_payload_v3(device_id: &str, f: &SignedFields<'_>) -> String {
    let norm = |s: &str| s.trim().to_ascii_lowercase();
    [
        "v3".to_owned(),
        device_id.to_owned(),
        f.client_id.to_owned(),
        f.client_mode.to_owned(),
        f.role.to_owned(),
        f.scopes.join(","),
        f.signed_at_ms.to_string(),
        f.token.to_owned(),
        f.nonce.to_owned(),
        norm(f.platform),
        norm(f.device_family),
    ]
    .join("|")
}

/// Device id of a raw public key: lower-case SHA-256 hex.
pub fn device_id_of(public_key: &[u8]) -> String {
    hex::encode(Sha256::digest(public_key))
}

impl DeviceIdentity {
    /// A new random identity.
    pub fn generate() -> EngineResult<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| {
            EngineError::io(
                "<os random source>",
                io::Error::other(format!("no randomness for a device key: {e}")),
            )
        })?;
        Ok(Self::from_seed(seed))
    }

    fn from_seed(seed: [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(&seed);
        let device_id = device_id_of(key.verifying_key().as_bytes());
        Self { key, device_id }
    }

    /// Load the identity at `path`, creating it (mode 0600, directory 0700) if missing. Safe
    /// when two processes race: the file appears complete or not at all.
    pub fn load_or_create(path: &Path) -> EngineResult<Self> {
        match fs::read(path) {
            Ok(bytes) => return Self::parse(path, &bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(EngineError::io(path, e)),
        }
        let identity = Self::generate()?;
        match identity.write_new(path) {
            Ok(()) => Ok(identity),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let bytes = fs::read(path).map_err(|e| EngineError::io(path, e))?;
                Self::parse(path, &bytes)
            }
            Err(e) => Err(EngineError::io(path, e)),
        }
    }

    /// Write to a 0600 temp file, then hard-link it into place (fails if `path` exists).
    fn write_new(&self, path: &Path) -> io::Result<()> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        ensure_dir(dir)?;
        let body = IdentityFile {
            version: 1,
            device_id: self.device_id.clone(),
            public_key: self.public_key_base64url(),
            private_key: URL_SAFE_NO_PAD.encode(self.key.to_bytes()),
        };
        let text = serde_json::to_string_pretty(&body).map_err(io::Error::other)?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = dir.join(format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(FILE_MODE)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            fs::hard_link(&tmp, path)?;
            fsync_dir(dir)
        })();
        let _ = fs::remove_file(&tmp);
        result
    }

    fn parse(path: &Path, bytes: &[u8]) -> EngineResult<Self> {
        let bad = |why: &str| {
            EngineError::option(
                "gateway.deviceIdentity",
                format!(
                    "{} is not a device identity file ({why}); move it away to create a new identity",
                    path.display()
                ),
            )
        };
        let file: IdentityFile =
            serde_json::from_slice(bytes).map_err(|_| bad("not the expected JSON"))?;
        let seed: [u8; 32] = URL_SAFE_NO_PAD
            .decode(file.private_key.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("privateKey is not 32 bytes of base64url"))?;
        let identity = Self::from_seed(seed);
        if identity.device_id != file.device_id
            || identity.public_key_base64url() != file.public_key.trim()
        {
            return Err(bad("deviceId/publicKey do not match the private key"));
        }
        Ok(identity)
    }

    /// The device id (SHA-256 hex of the raw public key).
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The raw public key as unpadded base64url.
    pub fn public_key_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes())
    }

    /// Sign `fields`; the signature is unpadded base64url.
    pub fn sign(&self, fields: &SignedFields<'_>) -> String {
        let payload = device_auth_payload_v3(&self.device_id, fields);
        URL_SAFE_NO_PAD.encode(self.key.sign(payload.as_bytes()).to_bytes())
    }

    /// The `device` object of the connect params: `{id, publicKey, signature, signedAt, nonce}`.
    pub fn connect_param(&self, fields: &SignedFields<'_>) -> Value {
        json!({
            "id": self.device_id,
            "publicKey": self.public_key_base64url(),
            "signature": self.sign(fields),
            "signedAt": fields.signed_at_ms,
            "nonce": fields.nonce,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
    use std::os::unix::fs::PermissionsExt;

    fn fields<'a>(scopes: &'a [String]) -> SignedFields<'a> {
        SignedFields {
            client_id: "gateway-client",
            client_mode: "backend",
            role: "operator",
            scopes,
            signed_at_ms: 1_700_000_000_000,
            token: "tok",
            nonce: "n-1",
            platform: "linux",
            device_family: " Linux ",
        }
    }

    #[test]
    fn payload_matches_openclaw_v3_layout() {
        let scopes = vec!["operator.read".to_string(), "operator.write".to_string()];
        assert_eq!(
            device_auth_payload_v3("dev", &fields(&scopes)),
            "v3|dev|gateway-client|backend|operator|operator.read,operator.write|1700000000000|tok|n-1|linux|linux"
        );
    }

    #[test]
    fn file_is_created_0600_reloaded_and_signatures_verify() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/device.json");
        let a = DeviceIdentity::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let b = DeviceIdentity::load_or_create(&path).unwrap();
        assert_eq!(a.device_id(), b.device_id());
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);

        let scopes = vec!["operator.write".to_string()];
        let f = fields(&scopes);
        let param = b.connect_param(&f);
        let raw_pk = URL_SAFE_NO_PAD
            .decode(param["publicKey"].as_str().unwrap())
            .unwrap();
        assert_eq!(device_id_of(&raw_pk), param["id"].as_str().unwrap());
        let vk = VerifyingKey::from_bytes(&raw_pk.try_into().unwrap()).unwrap();
        let sig_bytes = URL_SAFE_NO_PAD
            .decode(param["signature"].as_str().unwrap())
            .unwrap();
        let sig = Signature::from_slice(&sig_bytes).unwrap();
        let payload = device_auth_payload_v3(a.device_id(), &f);
        vk.verify(payload.as_bytes(), &sig).unwrap();
        assert!(vk.verify(b"v3|other", &sig).is_err());
        assert_eq!(param["signedAt"], 1_700_000_000_000i64);
        assert_eq!(param["nonce"], "n-1");
    }

    #[test]
    fn a_tampered_file_is_rejected_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.json");
        DeviceIdentity::load_or_create(&path).unwrap();
        let mut v: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        v["deviceId"] = json!("0000");
        fs::write(&path, v.to_string()).unwrap();
        let e = DeviceIdentity::load_or_create(&path).unwrap_err();
        assert_eq!(e.code(), "E_INVALID_OPTION");
        assert!(e.to_string().contains("move it away"), "{e}");
        assert!(!e.to_string().contains(v["privateKey"].as_str().unwrap()));
    }
}
