//! The optional configuration file and `crisisd config check`.
//!
//! Every setting is a flag (of `serve`, or global) and an environment variable; the
//! configuration file (`--config FILE`, `CRISISD_CONFIG`) is one flat TOML table whose
//! keys are those flags' long names with `_` for `-` (`http_addr = "0.0.0.0:8080"`).
//! Precedence, highest first: flag, environment variable, file, default.
//!
//! One mechanism gives that order: the command line is parsed once as given (flags and
//! environment); each setting of the file that the command takes and that neither set
//! is then added as a flag, and the command line parsed again. So a value from the file
//! is checked by the very parser that checks the flag, and says so when it is wrong.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use super::Cli;
use super::serve::ServeArgs;
use crate::store::StoreConfig;

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "CRISISD_CONFIG";

/// How this process's command line was parsed: the arguments with the file's settings
/// added, and the file with the ids of the settings it gave.
struct Parsed {
    argv: Vec<OsString>,
    file: Option<(PathBuf, Vec<String>)>,
}

static PARSED: OnceLock<Parsed> = OnceLock::new();

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Check the configuration `serve` would run with (flags, environment variables,
    /// the configuration file) and print it: each setting, its value and where it came
    /// from. Takes every flag `serve` takes; opens no store, binds no port.
    Check(Box<ServeArgs>),
}

/// A setting: a flag with its environment variable.
struct Setting {
    id: String,
    long: String,
    env: Option<String>,
    takes_value: bool,
}

/// The settings of `command` (and the global ones), by file key.
fn settings(command: &clap::Command) -> BTreeMap<String, Setting> {
    command
        .get_arguments()
        .filter_map(|arg| {
            let long = arg.get_long()?;
            Some((
                long.replace('-', "_"),
                Setting {
                    id: arg.get_id().to_string(),
                    long: long.to_owned(),
                    env: arg.get_env().map(|e| e.to_string_lossy().into_owned()),
                    takes_value: arg.get_action().takes_values(),
                },
            ))
        })
        .filter(|(key, _)| !matches!(key.as_str(), "config" | "help" | "version"))
        .collect()
}

/// Every key a configuration file may hold: the settings of `serve` and the global ones.
fn file_keys() -> BTreeMap<String, Setting> {
    let cli = Cli::command();
    let mut keys = settings(&cli);
    if let Some(serve) = cli.find_subcommand("serve") {
        keys.extend(settings(serve));
    }
    keys
}

/// Parses the command line of this process, with the configuration file's settings
/// under flags and environment variables. Exits like clap on a usage error (status 2),
/// naming the file when a setting from it is at fault.
pub fn parse() -> Cli {
    let argv: Vec<OsString> = std::env::args_os().collect();
    match parse_from(argv) {
        Ok(cli) => cli,
        Err(Failure::Clap(err)) => err.exit(),
        Err(Failure::File(why)) => {
            eprintln!("crisisd: {why}");
            std::process::exit(2);
        }
    }
}

enum Failure {
    Clap(clap::Error),
    File(String),
}

/// The innermost subcommand invoked (`config check`, `serve`) and its matches.
fn invoked<'a>(
    command: &clap::Command,
    matches: &'a ArgMatches,
) -> (clap::Command, &'a ArgMatches) {
    let mut command = command.clone();
    let mut matches = matches;
    while let Some((name, sub)) = matches.subcommand() {
        let Some(next) = command.find_subcommand(name).cloned() else {
            break;
        };
        command = next;
        matches = sub;
    }
    (command, matches)
}

fn parse_from(mut argv: Vec<OsString>) -> Result<Cli, Failure> {
    let command = Cli::command();
    let given = command
        .clone()
        .try_get_matches_from(&argv)
        .map_err(Failure::Clap)?;
    let Some(path) = given.get_one::<PathBuf>("config").cloned() else {
        let cli = Cli::from_arg_matches(&given).map_err(Failure::Clap)?;
        let _ = PARSED.set(Parsed { argv, file: None });
        return Ok(cli);
    };
    let table = read_table(&path).map_err(Failure::File)?;
    let known = file_keys();
    let (leaf, matches) = invoked(&command, &given);
    // The file configures crisisd itself: a client of it (`simulate`, `bench`) whose
    // flags share a name (`--nats-url`, its own NATS user) takes only the global ones.
    let client = matches!(given.subcommand_name(), Some("simulate" | "bench" | "load"));
    let mut takes = if client {
        BTreeMap::new()
    } else {
        settings(&leaf)
    };
    takes.extend(settings(&command));
    let mut from_file = Vec::new();
    for (key, value) in &table {
        if !known.contains_key(key) {
            return Err(Failure::File(format!(
                "{}: unknown setting `{key}`; the settings are {} (each a flag of `crisisd serve` with _ for -)",
                path.display(),
                known.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        let text = scalar(value).ok_or_else(|| {
            Failure::File(format!(
                "{}: `{key}` is a {}; give a string, a number or true/false",
                path.display(),
                value.type_str()
            ))
        })?;
        // A setting this command does not take (a serve setting for `verify`) is not
        // its business.
        let Some(setting) = takes.get(key) else {
            continue;
        };
        let source = source(matches, &setting.id).or_else(|| source(&given, &setting.id));
        if matches!(
            source,
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        if setting.takes_value {
            argv.push(format!("--{}={text}", setting.long).into());
        } else if text == "true" {
            argv.push(format!("--{}", setting.long).into());
        } else if text != "false" {
            return Err(Failure::File(format!(
                "{}: `{key}` is a switch; give true or false",
                path.display()
            )));
        }
        from_file.push(setting.id.clone());
    }
    let cli = command
        .try_get_matches_from(&argv)
        .and_then(|matches| Cli::from_arg_matches(&matches))
        .map_err(|err| {
            Failure::File(format!(
                "{err}\n(settings from the configuration file {} are read as flags: fix the file, or override the setting with its flag or environment variable)",
                path.display()
            ))
        })?;
    let _ = PARSED.set(Parsed {
        argv,
        file: Some((path, from_file)),
    });
    Ok(cli)
}

/// Where the value of `id` came from, if `matches`' command has such a setting.
fn source(matches: &ArgMatches, id: &str) -> Option<ValueSource> {
    matches
        .try_contains_id(id)
        .ok()
        .and_then(|_| matches.value_source(id))
}

/// The file's table, or what is wrong with it.
fn read_table(path: &Path) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        format!(
            "cannot read the configuration file {} (--config, {CONFIG_ENV}): {err}",
            path.display()
        )
    })?;
    text.parse::<toml::Table>()
        .map_err(|err| format!("configuration file {}: {err}", path.display()))
}

fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Float(x) => Some(x.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `crisisd config check`: checks every setting `serve` would run with and prints the
/// effective configuration; exit 0, or an error saying what to fix.
pub fn check(config: &StoreConfig, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let mut problems = Vec::new();
    let mut note = |result: anyhow::Result<()>| {
        if let Err(err) = result {
            problems.push(format!("{err:#}"));
        }
    };
    note(args.policy.load().map(drop));
    note(super::serve::compensation_policy(args).map(drop));
    let tokens = args.tokens.path(&config.path);
    note(
        crate::http::auth::Tokens::load(&tokens)
            .map(drop)
            .map_err(anyhow::Error::msg),
    );
    if let Some(path) = &args.master.master_key_file {
        note(
            crate::privacy::keys::read_master_key(path)
                .map(drop)
                .map_err(anyhow::Error::from),
        );
    }
    for (what, path) in [
        ("NATS credentials file", &args.nats_creds),
        ("NATS password file", &args.nats_password_file),
    ] {
        if let Some(path) = path {
            note(readable(what, path));
        }
    }
    if let Some(urls) = &args.nats_url {
        for url in urls.split(',') {
            note(
                url.trim()
                    .parse::<async_nats::ServerAddr>()
                    .map(drop)
                    .map_err(|err| {
                        anyhow::anyhow!(
                            "NATS URL {url:?}: {err}; give nats://host:port, several separated by commas"
                        )
                    }),
            );
        }
    }
    if args.cluster.cluster.is_some() && args.nats_url.is_none() {
        problems.push(
            "--cluster needs NATS: give --nats-url (the JetStream cluster's servers, comma-separated)"
                .into(),
        );
    }
    if let Some(url) = &args.cluster.advertise_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        problems.push(format!(
            "--advertise-url {url:?}: give the URL other nodes reach this one's HTTP API at, e.g. http://10.0.0.5:8080"
        ));
    }
    print!("{}", effective());
    if config.path.exists() && !config.path.is_dir() {
        problems.push(format!(
            "data directory {} is a file; give a directory",
            config.path.display()
        ));
    }
    if problems.is_empty() {
        println!("configuration ok");
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &problems {
        eprintln!("crisisd: {problem}");
    }
    Ok(ExitCode::from(2))
}

fn readable(what: &str, path: &Path) -> anyhow::Result<()> {
    std::fs::read(path)
        .map(drop)
        .map_err(|err| anyhow::anyhow!("cannot read the {what} {}: {err}", path.display()))
}

/// The effective configuration of this process's command line: each setting of
/// `serve` and the global ones, its value and where it came from. Secrets are only
/// ever given as files; their paths are shown, never their contents.
fn effective() -> String {
    let parsed = PARSED.get();
    let argv = parsed.map_or_else(|| std::env::args_os().collect(), |p| p.argv.clone());
    let from_file = parsed.and_then(|p| p.file.as_ref());
    let command = Cli::command();
    let Ok(matches) = command.clone().try_get_matches_from(&argv) else {
        return String::new();
    };
    let (_, sub) = invoked(&command, &matches);
    let mut out = String::new();
    if let Some((path, _)) = from_file {
        out.push_str(&format!("configuration file: {}\n", path.display()));
    }
    let keys = file_keys();
    let width = keys.keys().map(String::len).max().unwrap_or(0);
    for (key, setting) in &keys {
        let raw = sub
            .try_get_raw(&setting.id)
            .ok()
            .flatten()
            .or_else(|| matches.try_get_raw(&setting.id).ok().flatten());
        let value = raw.map(|values| {
            values
                .map(|v| v.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(",")
        });
        let from = source(sub, &setting.id).or_else(|| source(&matches, &setting.id));
        let source = match from {
            _ if from_file.is_some_and(|(_, ids)| ids.contains(&setting.id)) => "file".to_owned(),
            Some(ValueSource::CommandLine) => "flag".to_owned(),
            Some(ValueSource::EnvVariable) => {
                format!("env {}", setting.env.as_deref().unwrap_or(""))
            }
            Some(ValueSource::DefaultValue) => "default".to_owned(),
            _ => "unset".to_owned(),
        };
        let shown = value.map_or_else(|| "-".to_owned(), |v| masked(key, v));
        out.push_str(&format!("{key:width$}  {shown}  ({source})\n"));
    }
    out
}

/// A value as printed: the value itself, unless its name says it is a secret rather
/// than a secret's file.
fn masked(key: &str, value: String) -> String {
    let secret = ["password", "secret", "token"]
        .iter()
        .any(|word| key.contains(word))
        && !key.ends_with("_file");
    if secret { "****".to_owned() } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        std::iter::once("crisisd")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    fn serve_args(cli: Cli) -> Box<ServeArgs> {
        match cli.command {
            super::super::Command::Serve(args) => args,
            other => panic!("not serve: {other:?}"),
        }
    }

    fn file(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crisisd.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path.to_string_lossy().into_owned())
    }

    /// Flag over file over default; the file's value is parsed as the flag's.
    #[test]
    fn a_flag_beats_the_file_and_the_file_beats_the_default() {
        let (_dir, path) =
            file("http_addr = \"0.0.0.0:9090\"\nclock_skew_s = 5\ndata_dir = \"/srv/crisisd\"\n");
        let Ok(cli) = parse_from(argv(&["--config", &path, "serve"])) else {
            panic!("parses")
        };
        assert_eq!(cli.data_dir, PathBuf::from("/srv/crisisd"));
        let serve = serve_args(cli);
        assert_eq!(serve.http_addr.to_string(), "0.0.0.0:9090");
        assert_eq!(serve.clock_skew_s, 5);
        let Ok(cli) = parse_from(argv(&[
            "--config",
            &path,
            "serve",
            "--http-addr",
            "127.0.0.1:1",
        ])) else {
            panic!("parses")
        };
        assert_eq!(serve_args(cli).http_addr.to_string(), "127.0.0.1:1");
    }

    /// A command that does not take a serve setting ignores it; an unknown key, a
    /// table, or a bad value is refused naming the file and the key.
    #[test]
    fn wrong_settings_are_refused_naming_the_file() {
        let (_dir, path) =
            file("http_addr = \"0.0.0.0:9090\"\nnats_url = \"nats://crisisd:4222\"\n");
        assert!(parse_from(argv(&["--config", &path, "verify"])).is_ok());
        // simulate is a client: crisisd's own NATS settings are not its.
        let Ok(cli) = parse_from(argv(&["--config", &path, "simulate"])) else {
            panic!("parses")
        };
        let super::super::Command::Simulate(args) = cli.command else {
            panic!("simulate")
        };
        assert_eq!(args.nats_url, "nats://127.0.0.1:4222");
        for (text, says) in [
            ("htp_addr = \"x\"\n", "unknown setting `htp_addr`"),
            ("[serve]\nhttp_addr = \"x\"\n", "unknown setting `serve`"),
            ("policy = { file = \"x\" }\n", "`policy` is a table"),
            ("http_addr = \"nowhere\"\n", "invalid value"),
            ("http_addr = \n", "configuration file"),
        ] {
            let (_dir, path) = file(text);
            let Err(Failure::File(why)) = parse_from(argv(&["--config", &path, "serve"])) else {
                panic!("{text}: accepted")
            };
            assert!(why.contains(says), "{text}: {why}");
            assert!(why.contains(&path) || why.contains("crisisd.toml"), "{why}");
        }
        let Err(Failure::File(why)) = parse_from(argv(&["--config", "/nonexistent.toml", "serve"]))
        else {
            panic!("a missing file is an error")
        };
        assert!(why.contains("cannot read the configuration file"), "{why}");
    }

    #[test]
    fn secrets_are_masked_and_secret_files_shown() {
        assert_eq!(masked("nats_password", "hunter2".into()), "****");
        assert_eq!(
            masked("nats_password_file", "/run/secrets/p".into()),
            "/run/secrets/p"
        );
        assert_eq!(masked("http_addr", "0.0.0.0:1".into()), "0.0.0.0:1");
    }
}
