//! Secrets in provider settings may be given inline or named by an environment variable
//! (`password_env = "SMSC_PASSWORD"`), so the config file need not hold them.

/// The value of `inline`, or of the variable `env` names. `field` names the setting in errors.
pub fn resolve(
    inline: Option<&str>,
    env: Option<&str>,
    field: &str,
) -> Result<Option<String>, String> {
    match (inline, env) {
        (Some(_), Some(_)) => Err(format!("{field}: give {field} or {field}_env, not both")),
        (Some(v), None) => Ok(Some(v.to_owned())),
        (None, Some(var)) => std::env::var(var)
            .map(Some)
            .map_err(|_| format!("{field}_env: the environment variable {var} is not set")),
        (None, None) => Ok(None),
    }
}

/// As [`resolve`], for a secret that must be there.
pub fn required(inline: Option<&str>, env: Option<&str>, field: &str) -> Result<String, String> {
    resolve(inline, env, field)?.ok_or_else(|| format!("{field} (or {field}_env) is required"))
}
