//! `simulate`: serve the simulated SigmaMind API (for trials, tests and benchmarks).
//! With `--account NAME=KEY` it serves several accounts, each a workspace of
//! its own (its campaigns, its key, its admin endpoints) on a port of its own,
//! as separate SigmaMind workspaces are.

use std::net::SocketAddr;

use clap::Args;

use super::failure::Failure;
use super::signals::shutdown_signal;
use crate::sim;

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address to serve the simulated API on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// How many campaigns to start with.
    #[arg(long, default_value_t = 20)]
    campaigns: usize,
    /// Require this X-API-Key (any key is accepted when unset).
    #[arg(
        long,
        env = "SIM_API_KEY",
        hide_env_values = true,
        conflicts_with = "accounts"
    )]
    api_key: Option<String>,
    /// Serve a SigmaMind account named NAME whose X-API-Key is KEY, instead of the one unnamed workspace; repeat it for more. Each account is a workspace of its own (its campaigns, its key, its /admin): the first listens on --listen's port, each next one on the port after the previous one (with port 0, each on a free port); each prints its address.
    #[arg(long = "account", value_name = "NAME=KEY")]
    accounts: Vec<String>,
}

impl SimulateArgs {
    pub(super) async fn run(self) -> Result<(), Failure> {
        let Self {
            listen,
            campaigns,
            api_key,
            accounts,
        } = self;
        let workspaces = workspaces(api_key, &accounts)?;
        let mut servers = Vec::new();
        for (index, (name, api_key)) in workspaces.into_iter().enumerate() {
            let address = next_address(listen, index)?;
            let requires_key = api_key.is_some();
            let server = sim::start(address, sim::SimOptions { campaigns, api_key })
                .await
                .map_err(|e| Failure::usage(format!("cannot listen on {address}: {e}")))?;
            let account = name
                .map(|name| format!("account {name}: "))
                .unwrap_or_default();
            say!(
                "{account}simulated SigmaMind API on {} with {campaigns} campaigns ({}); admin endpoints under /admin; Ctrl-C to stop",
                server.base_url(),
                if requires_key { "X-API-Key required" } else { "any X-API-Key accepted" }
            );
            servers.push(server);
        }
        shutdown_signal().await;
        for server in servers {
            server.stop().await;
        }
        Ok(())
    }
}

/// One workspace to serve: its account name (none without `--account`) and key.
type Workspace = (Option<String>, Option<String>);

/// Each workspace to serve: one unnamed one without `--account`, else one per
/// `NAME=KEY`.
fn workspaces(api_key: Option<String>, accounts: &[String]) -> Result<Vec<Workspace>, Failure> {
    if accounts.is_empty() {
        return Ok(vec![(None, api_key)]);
    }
    let mut named: Vec<Workspace> = Vec::new();
    for spec in accounts {
        let Some((name, key)) = spec.split_once('=') else {
            return Err(Failure::usage(
                "--account takes NAME=KEY, e.g. --account acme=sk-acme",
            ));
        };
        let name = name.trim();
        if let Some(problem) = crate::config::account_name_problem(name) {
            return Err(Failure::usage(format!("--account {problem}")));
        }
        if key.is_empty() {
            return Err(Failure::usage(format!(
                "--account {name}=: the key is empty; give each account its own key"
            )));
        }
        if named
            .iter()
            .any(|(known, _)| known.as_deref() == Some(name))
        {
            return Err(Failure::usage(format!("--account {name} is given twice")));
        }
        named.push((Some(name.to_string()), Some(key.to_string())));
    }
    Ok(named)
}

/// The address of the `index`th workspace: the same with port 0 (a free port
/// each), else the next ports up.
fn next_address(listen: SocketAddr, index: usize) -> Result<SocketAddr, Failure> {
    if listen.port() == 0 {
        return Ok(listen);
    }
    let port = u16::try_from(usize::from(listen.port()) + index).map_err(|_| {
        Failure::usage(format!(
            "--listen {listen}: no port left for account {}",
            index + 1
        ))
    })?;
    Ok(SocketAddr::new(listen.ip(), port))
}

#[cfg(test)]
mod tests {
    /// The help says what `--account` serves and on which port, not "one more".
    #[test]
    fn the_account_flag_says_which_port_each_account_takes() {
        let command = crate::cli::command();
        let simulate = command.find_subcommand("simulate").unwrap();
        let account = simulate
            .get_arguments()
            .find(|arg| arg.get_id() == "accounts")
            .unwrap();
        let help = account.get_help().unwrap().to_string();
        assert!(
            help.contains("the first listens on --listen's port"),
            "{help}"
        );
        assert!(!help.contains("one more"), "{help}");
    }
}
