//! The example's settings, from the environment. Every bad value is an error naming its
//! variable (and never showing the admin token).

use std::ffi::OsString;
use std::net::SocketAddr;

use crate::admin::{AdminToken, TokenError};

/// Where the public service listens (`/quote`, `/health`, `/metrics`); default `127.0.0.1:0`.
pub(crate) const HTTP_ADDR: &str = "RESILIENCE_EXAMPLE_ADDR";
/// Where the admin listener listens; a loopback address only, default `127.0.0.1:0`.
pub(crate) const ADMIN_ADDR: &str = "RESILIENCE_ADMIN_ADDR";
/// The admin bearer token: without it the admin listener is not started.
pub(crate) const ADMIN_TOKEN: &str = "RESILIENCE_ADMIN_TOKEN";
/// `1` (default): edit the overrides file, print the effects and exit; `0`: serve until Ctrl-C.
pub(crate) const DEMO: &str = "RESILIENCE_DEMO";

/// What the environment asked for.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) http_addr: SocketAddr,
    /// `None` when no token is set: no admin listener at all.
    pub(crate) admin: Option<AdminSettings>,
    pub(crate) demo: bool,
}

/// The admin listener's address and token.
#[derive(Debug)]
pub(crate) struct AdminSettings {
    pub(crate) addr: SocketAddr,
    pub(crate) token: AdminToken,
}

/// A variable that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SettingsError {
    pub(crate) variable: &'static str,
    pub(crate) problem: String,
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

impl std::error::Error for SettingsError {}

fn error(variable: &'static str, problem: impl Into<String>) -> SettingsError {
    SettingsError {
        variable,
        problem: problem.into(),
    }
}

impl Settings {
    /// From the process's environment.
    pub(crate) fn from_env() -> Result<Settings, SettingsError> {
        Settings::from_vars(|name| std::env::var_os(name))
    }

    /// From the variables `var` looks up.
    pub(crate) fn from_vars(
        var: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Settings, SettingsError> {
        let text = |name: &'static str| -> Result<Option<String>, SettingsError> {
            var(name)
                .map(|value| {
                    value
                        .into_string()
                        .map_err(|_| error(name, "is not valid UTF-8"))
                })
                .transpose()
        };
        let addr = |name: &'static str| -> Result<SocketAddr, SettingsError> {
            match text(name)? {
                None => Ok(SocketAddr::from(([127, 0, 0, 1], 0))),
                Some(value) => value.parse().map_err(|_| {
                    error(
                        name,
                        format!("`{value}` is not an address with a port, like `127.0.0.1:8080`"),
                    )
                }),
            }
        };
        let http_addr = addr(HTTP_ADDR)?;
        let admin_addr = addr(ADMIN_ADDR)?;
        if !admin_addr.ip().is_loopback() {
            return Err(error(
                ADMIN_ADDR,
                format!(
                    "`{admin_addr}` is not a loopback address: the admin listener binds to 127.0.0.1 (or ::1) only"
                ),
            ));
        }
        let admin = match text(ADMIN_TOKEN)? {
            Some(token) => Some(AdminSettings {
                addr: admin_addr,
                token: AdminToken::new(&token)
                    .map_err(|problem: TokenError| error(ADMIN_TOKEN, problem.to_string()))?,
            }),
            None if var(ADMIN_ADDR).is_some() => {
                return Err(error(
                    ADMIN_ADDR,
                    format!(
                        "is set but {ADMIN_TOKEN} is not: the admin listener never starts without a token"
                    ),
                ));
            }
            None => None,
        };
        let demo = match text(DEMO)?.as_deref() {
            None | Some("1") => true,
            Some("0") => false,
            Some(other) => return Err(error(DEMO, format!("`{other}` is neither `1` nor `0`"))),
        };
        Ok(Settings {
            http_addr,
            admin,
            demo,
        })
    }
}
