//! The pages' words: message catalogues by language (`pages/i18n/{lang}.toml`, English
//! built in and complete, others falling back to it key by key; a theme's `i18n/*.toml` add
//! languages or replace words), chosen by `Accept-Language`; and dates in the reader's form.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};

/// The catalogues shipped in the binary.
const BUILT_IN: [(&str, &str); 2] = [
    ("en", include_str!("../../pages/i18n/en.toml")),
    ("fr", include_str!("../../pages/i18n/fr.toml")),
];

/// One language's words, English filling what it lacks.
pub type Words = Arc<BTreeMap<String, String>>;

pub struct Catalogues {
    /// Languages in the order of preference when a browser names none of them: English first.
    languages: Vec<(String, Words)>,
}

impl Catalogues {
    /// The built-in catalogues, and the theme's `i18n/*.toml` over them.
    pub fn load(theme: Option<&Path>) -> anyhow::Result<Self> {
        let mut raw: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (lang, text) in BUILT_IN {
            raw.insert(
                lang.into(),
                parse(text).with_context(|| format!("pages/i18n/{lang}.toml"))?,
            );
        }
        if let Some(dir) = theme.map(|t| t.join("i18n")).filter(|d| d.is_dir()) {
            for entry in std::fs::read_dir(&dir)? {
                let path = entry?.path();
                let Some(lang) = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .filter(|_| path.extension().is_some_and(|e| e == "toml"))
                else {
                    continue;
                };
                if !valid_tag(lang) {
                    bail!("{}: not a language tag", path.display());
                }
                let words = parse(&std::fs::read_to_string(&path)?)
                    .with_context(|| path.display().to_string())?;
                raw.entry(lang.to_ascii_lowercase())
                    .or_default()
                    .extend(words);
            }
        }
        let english = raw.remove("en").unwrap_or_default();
        let mut languages = vec![("en".to_owned(), Arc::new(english.clone()))];
        for (lang, words) in raw {
            let mut merged = english.clone();
            merged.extend(words);
            languages.push((lang, Arc::new(merged)));
        }
        Ok(Self { languages })
    }

    /// The language `Accept-Language` prefers among those there are (by quality, then
    /// order; a tag matches its language, `fr-CA` matching `fr`); English otherwise.
    pub fn negotiate(&self, accept: Option<&str>) -> (&str, Words) {
        let mut wanted: Vec<(f32, usize, String)> = accept
            .unwrap_or_default()
            .split(',')
            .take(16)
            .enumerate()
            .filter_map(|(position, item)| {
                let mut parts = item.split(';');
                let tag = parts.next()?.trim().to_ascii_lowercase();
                let quality = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                (quality > 0.0 && !tag.is_empty()).then_some((quality, position, tag))
            })
            .collect();
        wanted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, _, tag) in &wanted {
            let primary = tag.split('-').next().unwrap_or_default();
            if let Some((lang, words)) = self
                .languages
                .iter()
                .find(|(lang, _)| lang == tag || lang == primary)
            {
                return (lang, words.clone());
            }
        }
        let (lang, words) = &self.languages[0];
        (lang, words.clone())
    }

    pub fn english(&self) -> Words {
        self.languages[0].1.clone()
    }
}

/// A catalogue's keys, `section.key`, from TOML tables of strings.
fn parse(text: &str) -> anyhow::Result<BTreeMap<String, String>> {
    fn flatten(
        prefix: &str,
        table: &toml::Table,
        out: &mut BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        for (key, value) in table {
            let key = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                toml::Value::String(text) => {
                    out.insert(key, text.clone());
                }
                toml::Value::Table(inner) => flatten(&key, inner, out)?,
                _ => bail!("{key}: only text and tables of text"),
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    flatten("", &text.parse::<toml::Table>()?, &mut out)?;
    Ok(out)
}

fn valid_tag(tag: &str) -> bool {
    (2..=12).contains(&tag.len()) && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `ms` (unix milliseconds) as a date and time in the language of `words`: its month names
/// (`date.months`, twelve separated by commas) in its pattern (`date.format` with `{day}`,
/// `{month}`, `{year}`, `{time}`), in UTC.
pub fn date(words: &BTreeMap<String, String>, ms: i64) -> String {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return String::new();
    };
    let months: Vec<&str> = words
        .get("date.months")
        .map_or("", String::as_str)
        .split(',')
        .map(str::trim)
        .collect();
    let month = months
        .get(usize::from(u8::from(at.month())) - 1)
        .copied()
        .unwrap_or_default();
    words
        .get("date.format")
        .map_or("{day} {month} {year}, {time}", String::as_str)
        .replace("{day}", &at.day().to_string())
        .replace("{month}", month)
        .replace("{year}", &at.year().to_string())
        .replace(
            "{time}",
            &format!("{:02}:{:02} UTC", at.hour(), at.minute()),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_s_preference_wins_among_the_languages_there_are() {
        let catalogues = Catalogues::load(None).unwrap();
        assert_eq!(
            catalogues.negotiate(Some("fr-CA,fr;q=0.9,en;q=0.8")).0,
            "fr"
        );
        assert_eq!(
            catalogues.negotiate(Some("de-DE,en;q=0.5,fr;q=0.7")).0,
            "fr"
        );
        assert_eq!(catalogues.negotiate(Some("de")).0, "en");
        assert_eq!(catalogues.negotiate(Some("fr;q=0")).0, "en");
        assert_eq!(catalogues.negotiate(None).0, "en");
    }

    #[test]
    fn every_language_has_every_english_word() {
        let catalogues = Catalogues::load(None).unwrap();
        let english = catalogues.english();
        let french = catalogues.negotiate(Some("fr")).1;
        assert_eq!(english.len(), french.len());
        let raw_french = parse(BUILT_IN[1].1).unwrap();
        let missing: Vec<&String> = english
            .keys()
            .filter(|k| !raw_french.contains_key(*k))
            .collect();
        assert!(missing.is_empty(), "French lacks {missing:?}");
    }

    #[test]
    fn dates_follow_the_language() {
        let catalogues = Catalogues::load(None).unwrap();
        let ms = 1_796_613_497_000; // 2026-12-07T03:18:17Z
        assert_eq!(date(&catalogues.english(), ms), "7 Dec 2026, 03:18 UTC");
        assert_eq!(
            date(&catalogues.negotiate(Some("fr")).1, ms),
            "7 déc. 2026, 03:18 UTC"
        );
    }
}
