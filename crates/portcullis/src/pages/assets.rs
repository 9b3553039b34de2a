//! The pages' static files: built in (`pages/assets/`), each replaceable by a file of the same
//! name in the theme's `assets/`, where more may be added. Each is served under a path named
//! by its content's hash, so that it can be cached for a year and a new version is a new URL.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

const BUILT_IN: [(&str, &[u8]); 2] = [
    ("style.css", include_bytes!("../../pages/assets/style.css")),
    ("logo.svg", include_bytes!("../../pages/assets/logo.svg")),
];

/// The largest file a theme may add.
const MAX_THEME_FILE: u64 = 2 * 1024 * 1024;

pub struct Asset {
    /// `/assets/{hash}/{name}`.
    pub url: String,
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

pub struct Assets(BTreeMap<String, Asset>);

impl Assets {
    pub fn load(theme: Option<&Path>) -> anyhow::Result<Self> {
        let mut files: BTreeMap<String, Vec<u8>> = BUILT_IN
            .iter()
            .map(|(name, bytes)| ((*name).to_owned(), bytes.to_vec()))
            .collect();
        if let Some(dir) = theme.map(|t| t.join("assets")).filter(|d| d.is_dir()) {
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let path = entry.path();
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if !entry.file_type()?.is_file() || name.starts_with('.') {
                    continue;
                }
                if content_type(name).is_none() {
                    bail!(
                        "{}: not a kind of file pages serve (css, svg, png, jpg, webp, ico, woff2)",
                        path.display()
                    );
                }
                if entry.metadata()?.len() > MAX_THEME_FILE {
                    bail!("{}: larger than 2 MiB", path.display());
                }
                files.insert(
                    name.to_owned(),
                    std::fs::read(&path).with_context(|| path.display().to_string())?,
                );
            }
        }
        Ok(Self(
            files
                .into_iter()
                .map(|(name, bytes)| {
                    let hash = hex(&Sha256::digest(&bytes)[..6]);
                    let asset = Asset {
                        url: format!("/assets/{hash}/{name}"),
                        content_type: content_type(&name).unwrap_or("application/octet-stream"),
                        bytes,
                    };
                    (name, asset)
                })
                .collect(),
        ))
    }

    /// Each file's URL by its name, for templates.
    pub fn urls(&self) -> BTreeMap<&str, &str> {
        self.0
            .iter()
            .map(|(name, asset)| (name.as_str(), asset.url.as_str()))
            .collect()
    }

    /// The file at `/assets/{hash}/{name}`, only under its current hash.
    pub fn get(&self, hash: &str, name: &str) -> Option<&Asset> {
        self.0
            .get(name)
            .filter(|asset| asset.url == format!("/assets/{hash}/{name}"))
    }
}

fn content_type(name: &str) -> Option<&'static str> {
    let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => return None,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
