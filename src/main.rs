//! The `lift` binary: parses the command line, sets up logging, and hands over to the library.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use lift::admin::{self, AdminCommand};
use lift::auth::JwtKeys;
use lift::configuration::{
    log_filter, AuthSettings, ClickHouseSettings, DatabaseSettings, ResultsSettings, Settings,
};
use lift::startup::{connect_and_migrate_with, default_warehouse, shutdown_signal, Application};
use lift::warehouse::{Warehouse, WarehouseOptions};
use lift::{demo_events, graphql, telemetry};

/// mimalloc, not glibc's malloc: a GraphQL response is thousands of short-lived small allocations,
/// and glibc's spent about a quarter of the metric list's CPU (`benches/batching.md`, "An allocator,
/// adopted"). Built with `no_thp`: otherwise mimalloc asks Linux for transparent huge pages
/// (`madvise`) on the regions it maps, and an idle server measured ~16 MB larger (`benches/memory.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "lift",
    version,
    about = "GraphQL API server for warehouse-native A/B experiment metrics"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the GraphQL server (migrations are applied on start).
    Serve(Settings),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseSettings),
    /// Print the GraphQL SDL; with `--check FILE`, fail when FILE differs from it.
    Schema {
        #[arg(long, value_name = "FILE")]
        check: Option<std::path::PathBuf>,
    },
    /// Print a signed token for a user.
    Token {
        #[arg(long)]
        email: String,
        /// Lifetime: seconds, or a number with s, m, h or d (e.g. `12h`).
        #[arg(long, default_value = "24h", value_parser = parse_ttl)]
        ttl: Duration,
        #[command(flatten)]
        database: DatabaseSettings,
        #[command(flatten)]
        auth: AuthSettings,
    },
    /// Manage organisations, projects, environments, users, features and permissions.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Seed a demo organisation (idempotent) and print a token for each demo user; with
    /// `LIFT_CLICKHOUSE_URL`, also load the demo experiment's events (once).
    Demo {
        #[command(flatten)]
        database: DatabaseSettings,
        #[command(flatten)]
        auth: AuthSettings,
        #[command(flatten)]
        clickhouse: ClickHouseSettings,
        /// The demo experiment's analysis settings start from these, as any new experiment's do.
        #[command(flatten)]
        results: ResultsSettings,
    },
    /// ClickHouse tasks.
    Clickhouse {
        #[command(subcommand)]
        command: ClickhouseCommand,
        #[command(flatten)]
        clickhouse: ClickHouseSettings,
    },
}

#[derive(Subcommand)]
enum ClickhouseCommand {
    /// Create the database and the events table (`LIFT_CLICKHOUSE_*`) when they do not exist.
    Init {
        /// Create them `ON CLUSTER` this cluster (each shard's local table, and the `Distributed`
        /// table `<table>_distributed` over them, sharded by `cityHash64(identifier)`); the
        /// default is `LIFT_CLICKHOUSE_CLUSTER`.
        #[arg(long)]
        cluster: Option<String>,
    },
}

/// The server-wide warehouse from the settings, or an error saying how to configure one.
fn warehouse(settings: &ClickHouseSettings) -> anyhow::Result<Warehouse> {
    let target = default_warehouse(settings)?
        .ok_or_else(|| anyhow::anyhow!("set LIFT_CLICKHOUSE_URL (or --clickhouse-url)"))?;
    Ok(Warehouse::new(
        &target,
        &WarehouseOptions::from_settings(settings),
    ))
}

fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 3600, 90m or 24h"))?;
    let seconds = match unit {
        's' => n,
        'm' => n * 60,
        'h' => n * 3600,
        'd' => n * 86_400,
        _ => return Err(format!("unknown unit {unit:?}: use s, m, h or d")),
    };
    if seconds == 0 {
        return Err("the lifetime must be positive".into());
    }
    Ok(Duration::from_secs(seconds))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(&log_filter());
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(settings) => {
            let app = Application::build(&settings).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate(database) => {
            connect_and_migrate_with(&database).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Schema { check } => {
            let sdl = graphql::sdl();
            match check {
                None => print!("{sdl}"),
                Some(path) => {
                    let committed = std::fs::read_to_string(&path)?;
                    if committed != sdl {
                        anyhow::bail!(
                            "{} is out of date: run `lift schema > {}`",
                            path.display(),
                            path.display()
                        );
                    }
                    println!("{} matches the schema", path.display());
                }
            }
            Ok(())
        }
        Command::Token {
            email,
            ttl,
            database,
            auth,
        } => {
            let jwt = JwtKeys::from_settings(&auth, &database.database_url)?;
            // Emails are stored trimmed and lowercased, and a token's `sub` must match exactly.
            println!("{}", jwt.issue(&email.trim().to_lowercase(), ttl)?);
            Ok(())
        }
        Command::Admin { command, database } => {
            let db = connect_and_migrate_with(&database).await?;
            println!("{}", admin::run(&db, command).await?);
            Ok(())
        }
        Command::Clickhouse {
            command: ClickhouseCommand::Init { cluster },
            mut clickhouse,
        } => {
            if cluster.is_some() {
                clickhouse.clickhouse_cluster = cluster;
            }
            warehouse(&clickhouse)?.init_events_table().await?;
            let (database, table) = (
                &clickhouse.clickhouse_database,
                &clickhouse.clickhouse_table,
            );
            match &clickhouse.clickhouse_cluster {
                None => println!("events table {database}.{table} is ready"),
                Some(cluster) => println!(
                    "events table {database}.{table} is ready on every shard of {cluster}; \
                     insert into {database}.{table}{}",
                    lift::warehouse::events::DISTRIBUTED_SUFFIX
                ),
            }
            Ok(())
        }
        Command::Demo {
            database,
            auth,
            clickhouse,
            results,
        } => {
            let db = connect_and_migrate_with(&database).await?;
            let jwt = JwtKeys::from_settings(&auth, &database.database_url)?;
            let users = admin::seed_demo(&db, &results.analysis_defaults()).await?;
            if clickhouse.clickhouse_url.is_some() {
                let start = admin::demo_experiment_start(&db)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("the demo experiment has not started"))?;
                let written =
                    demo_events::load(&warehouse(&clickhouse)?, admin::DEMO_ENVIRONMENT_KEY, start)
                        .await?;
                match written {
                    0 => println!("Demo events are already loaded."),
                    n => println!("Loaded {n} demo events into ClickHouse."),
                }
            }
            println!(
                "Demo environment `{}` is ready. Tokens (valid 24h):",
                admin::DEMO_ENVIRONMENT_KEY
            );
            for email in users {
                println!(
                    "  {email:<22} {}",
                    jwt.issue(email, Duration::from_secs(86_400))?
                );
            }
            Ok(())
        }
    }
}
