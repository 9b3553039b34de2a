//! The pages' templates: built in (`pages/templates/`), each replaceable by a file of the
//! same name in the theme's `templates/`, where more may be added (partials the replacements
//! include). All are read and parsed at start, so that a broken theme stops the server with
//! the file named rather than failing a page later. HTML is escaped unless marked safe.

use std::path::Path;

use anyhow::Context;
use minijinja::{Environment, UndefinedBehavior};

pub const BUILT_IN: &[(&str, &str)] = &[
    ("base.html", include_str!("../../pages/templates/base.html")),
    (
        "macros.html",
        include_str!("../../pages/templates/macros.html"),
    ),
    (
        "message.html",
        include_str!("../../pages/templates/message.html"),
    ),
    (
        "login.html",
        include_str!("../../pages/templates/login.html"),
    ),
    (
        "signup.html",
        include_str!("../../pages/templates/signup.html"),
    ),
    (
        "forgot.html",
        include_str!("../../pages/templates/forgot.html"),
    ),
    (
        "reset.html",
        include_str!("../../pages/templates/reset.html"),
    ),
    (
        "verify.html",
        include_str!("../../pages/templates/verify.html"),
    ),
    (
        "account.html",
        include_str!("../../pages/templates/account.html"),
    ),
    (
        "admin/users.html",
        include_str!("../../pages/templates/admin/users.html"),
    ),
    (
        "admin/user.html",
        include_str!("../../pages/templates/admin/user.html"),
    ),
    (
        "admin/delete.html",
        include_str!("../../pages/templates/admin/delete.html"),
    ),
    (
        "admin/audit.html",
        include_str!("../../pages/templates/admin/audit.html"),
    ),
    (
        "admin/suspicious.html",
        include_str!("../../pages/templates/admin/suspicious.html"),
    ),
    (
        "admin/settings.html",
        include_str!("../../pages/templates/admin/settings.html"),
    ),
    (
        "admin/nav.html",
        include_str!("../../pages/templates/admin/nav.html"),
    ),
];

/// The templates, the theme's over the built-in ones. `strict` makes a variable a template
/// names but the page does not give an error (the tests render every page so).
pub fn environment(theme: Option<&Path>, strict: bool) -> anyhow::Result<Environment<'static>> {
    let mut env = Environment::new();
    if strict {
        env.set_undefined_behavior(UndefinedBehavior::Strict);
    }
    let dir = theme.map(|t| t.join("templates"));
    let mut names: Vec<String> = BUILT_IN
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    if let Some(dir) = dir.as_deref().filter(|d| d.is_dir()) {
        collect(dir, dir, &mut names)?;
    }
    names.sort();
    names.dedup();
    for name in names {
        let themed = dir.as_ref().map(|d| d.join(&name)).filter(|p| p.is_file());
        let source = match &themed {
            Some(path) => {
                std::fs::read_to_string(path).with_context(|| path.display().to_string())?
            }
            None => BUILT_IN
                .iter()
                .find(|(built_in, _)| *built_in == name)
                .map(|(_, source)| (*source).to_owned())
                .unwrap_or_default(),
        };
        let shown = themed.map_or_else(
            || format!("pages/templates/{name}"),
            |p| p.display().to_string(),
        );
        env.add_template_owned(name, source)
            .with_context(|| format!("template {shown}"))?;
    }
    Ok(env)
}

/// The `.html` files under `dir`, by their path relative to `root`.
fn collect(root: &Path, dir: &Path, names: &mut Vec<String>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, names)?;
        } else if path.extension().is_some_and(|e| e == "html")
            && let Ok(relative) = path.strip_prefix(root)
        {
            names.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}
