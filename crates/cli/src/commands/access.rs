//! `baton login|logout|context|user|token|project|audit`: logging in to servers, and the
//! users, tokens, projects, members and audit log of one. Secrets never come from argv:
//! passwords are prompted for (or read from stdin with `--password-stdin`).

use crate::args::ServerArgs;
use crate::client::{encode, Client, Empty};
use crate::contexts::{Context, Contexts};
use crate::exit::Exit;
use anyhow::Context as _;
use baton_api_model::{
    AuditList, AuditOutcome, LoginAnswer, LoginRequest, Me, MemberList, NewProject, NewToken,
    NewUser, ProjectList, ProjectMember, Role, SessionKind, SetMember, SetPassword, TokenCreated,
    TokenList, User, UserList,
};
use clap::{Args, Subcommand};

/// `baton login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The user to log in as.
    #[arg(long, default_value = "admin")]
    pub username: String,
    /// Read the password from the first line of stdin instead of a prompt (scripts).
    #[arg(long)]
    pub password_stdin: bool,
    /// Name the context (default: the server URL).
    #[arg(long)]
    pub context: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `baton context …`: the servers logged in to.
#[derive(Debug, Subcommand)]
pub enum ContextCommand {
    /// Every context; `*` marks the current one.
    List,
    /// Make a context the current one.
    Use {
        /// Its name.
        name: String,
    },
}

/// `baton user …` (global admins).
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (the password is prompted for, or read with `--password-stdin`).
    Create {
        /// The login name.
        name: String,
        /// Make it a global admin.
        #[arg(long)]
        global_admin: bool,
        /// Read the password from stdin.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Every user.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Disable a user: no login; their sessions end and tokens stop working.
    Disable {
        /// The user.
        name: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Enable a disabled user again.
    Enable {
        /// The user.
        name: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Set a user's password (their sessions end).
    Passwd {
        /// The user.
        name: String,
        /// Read the password from stdin.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// `baton token …`: your API tokens.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; prints it alone on stdout, this once.
    Create {
        /// A name to recognise it by.
        #[arg(long, default_value = "")]
        name: String,
        /// Narrow it to this project.
        #[arg(long)]
        project: Option<String>,
        /// Narrow it to at most this role (viewer, operator, editor, admin).
        #[arg(long)]
        role: Option<Role>,
        /// Expire after this long (`30d`, `12h`).
        #[arg(long, value_parser = humantime::parse_duration)]
        expires: Option<std::time::Duration>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Your tokens (never their secrets).
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Revoke a token.
    Revoke {
        /// Its id (from `token list`).
        id: i64,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// `baton project …`.
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project (global admins).
    Create {
        /// Its name.
        name: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// The projects you are a member of (all, for a global admin).
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Delete an empty project (global admins).
    Delete {
        /// Its name.
        name: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// A project's members.
    #[command(subcommand)]
    Member(MemberCommand),
}

/// `baton project member …` (project admins).
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Give a user a role on a project (or change it).
    Add {
        /// The project.
        project: String,
        /// The user.
        user: String,
        /// viewer, operator, editor or admin.
        #[arg(long)]
        role: Role,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Take a user's role on a project away.
    Remove {
        /// The project.
        project: String,
        /// The user.
        user: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// The members of a project.
    List {
        /// The project.
        project: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// `baton audit …` (global admins).
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The changes asked of the API, newest first.
    List {
        /// Only since this long ago (`1h`, `7d`).
        #[arg(long, value_parser = humantime::parse_duration)]
        since: Option<std::time::Duration>,
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// A password from a prompt, or the first line of stdin.
fn read_password(prompt: &str, from_stdin: bool) -> anyhow::Result<String> {
    let text = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        rpassword::prompt_password(prompt).context("reading the password")?
    };
    if text.is_empty() {
        return Err(Exit::BadInput("no password given".into()).into());
    }
    Ok(text)
}

/// `baton login`: a session token stored as the current context.
pub async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let server = args.server.url();
    let password = read_password(
        &format!("Password for {} at {server}: ", args.username),
        args.password_stdin,
    )?;
    let request = LoginRequest {
        username: args.username.clone(),
        password,
        session: SessionKind::Token,
    };
    // The CA given now, else the one kept from an earlier login to this server.
    let ca_cert = match &args.server.ca_cert {
        Some(path) => Some(
            std::path::absolute(path)
                .with_context(|| format!("the CA certificate {}", path.display()))?,
        ),
        None => crate::contexts::ca_for(&server),
    };
    let answer: LoginAnswer = Client::with_token(&server, None, ca_cert.as_deref())?
        .post("/auth/login", &request)
        .await?;
    let token = answer
        .token
        .ok_or_else(|| Exit::Failed("the server sent no session token".into()))?;
    let mut contexts = Contexts::load()?;
    contexts.put(Context {
        name: args.context.unwrap_or_else(|| server.clone()),
        server: server.clone(),
        user: args.username.clone(),
        token,
        ca_cert,
    });
    let path = contexts.save()?;
    eprintln!(
        "logged in to {server} as {} (until {}); saved in {}",
        args.username,
        answer.expires_at,
        path.display()
    );
    Ok(())
}

/// `baton logout`: ends the session on the server and forgets it here.
pub async fn logout(server: ServerArgs) -> anyhow::Result<()> {
    let url = server.url();
    let mut contexts = Contexts::load()?;
    let Some(context) = contexts.for_server(&url).cloned() else {
        return Err(Exit::Failed(format!("not logged in to {url}")).into());
    };
    let ca = server.ca_cert.clone().or(context.ca_cert.clone());
    let ended: anyhow::Result<()> = async {
        Client::with_token(&url, Some(context.token.clone()), ca.as_deref())?
            .post("/auth/logout", &Empty {})
            .await
    }
    .await;
    contexts.remove(&context.name);
    contexts.save()?;
    if let Err(e) = ended {
        eprintln!("forgot the login here, but the server said: {e:#}");
    }
    eprintln!("logged out of {url}");
    Ok(())
}

/// `baton context list|use`.
pub fn context(cmd: ContextCommand) -> anyhow::Result<()> {
    let mut contexts = Contexts::load()?;
    match cmd {
        ContextCommand::List => {
            for c in &contexts.contexts {
                let mark = if contexts.current.as_deref() == Some(&c.name) {
                    "*"
                } else {
                    " "
                };
                println!("{mark} {}\t{}\t{}", c.name, c.server, c.user);
            }
            Ok(())
        }
        ContextCommand::Use { name } => {
            if !contexts.contexts.iter().any(|c| c.name == name) {
                return Err(Exit::BadInput(format!(
                    "no context `{name}`: see `baton context list`, or `baton login --server URL`"
                ))
                .into());
            }
            contexts.current = Some(name.clone());
            contexts.save()?;
            eprintln!("now using {name}");
            Ok(())
        }
    }
}

fn print_user(u: &User) {
    let admin = if u.global_admin { "global-admin" } else { "-" };
    let state = if u.disabled { "disabled" } else { "enabled" };
    println!("{}\t{admin}\t{state}\t{}", u.name, u.created_at);
}

/// `baton user …`.
pub async fn user(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            name,
            global_admin,
            password_stdin,
            server,
        } => {
            let password = read_password(&format!("Password for {name}: "), password_stdin)?;
            let body = NewUser {
                name,
                password,
                global_admin,
            };
            let u: User = server.client()?.post("/users", &body).await?;
            print_user(&u);
        }
        UserCommand::List { server } => {
            let users = server
                .client()?
                .all_pages("/users", |p: UserList| (p.users, p.next_cursor))
                .await?;
            users.iter().for_each(print_user);
        }
        UserCommand::Disable { name, server } => {
            let path = format!("/users/{}/disable", encode(&name));
            let () = server.client()?.post(&path, &Empty {}).await?;
            eprintln!("user {name} disabled");
        }
        UserCommand::Enable { name, server } => {
            let path = format!("/users/{}/enable", encode(&name));
            let () = server.client()?.post(&path, &Empty {}).await?;
            eprintln!("user {name} enabled");
        }
        UserCommand::Passwd {
            name,
            password_stdin,
            server,
        } => {
            let password = read_password(&format!("New password for {name}: "), password_stdin)?;
            let path = format!("/users/{}/password", encode(&name));
            let () = server
                .client()?
                .put(&path, &SetPassword { password })
                .await?;
            eprintln!("password of {name} set; their sessions ended");
        }
    }
    Ok(())
}

/// `baton token …`.
pub async fn token(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create {
            name,
            project,
            role,
            expires,
            server,
        } => {
            let body = NewToken {
                name,
                project,
                role,
                expires_in_s: expires.map(|d| d.as_secs().max(1)),
            };
            let t: TokenCreated = server.client()?.post("/tokens", &body).await?;
            println!("{}", t.token);
        }
        TokenCommand::List { server } => {
            let tokens = server
                .client()?
                .all_pages("/tokens", |p: TokenList| (p.tokens, p.next_cursor))
                .await?;
            for t in tokens {
                let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
                println!(
                    "{}\t{}\t{}\t{}\texpires {}\tlast used {}{}",
                    t.id,
                    if t.name.is_empty() { "-" } else { &t.name },
                    opt(t.project),
                    opt(t.role.map(|r| r.to_string())),
                    opt(t.expires_at.map(|e| e.to_rfc3339())),
                    opt(t.last_used_at.map(|e| e.to_rfc3339())),
                    if t.revoked_at.is_some() {
                        "\trevoked"
                    } else {
                        ""
                    }
                );
            }
        }
        TokenCommand::Revoke { id, server } => {
            let () = server.client()?.delete(&format!("/tokens/{id}")).await?;
            eprintln!("token {id} revoked");
        }
    }
    Ok(())
}

/// `baton project …`.
pub async fn project(cmd: ProjectCommand) -> anyhow::Result<()> {
    match cmd {
        ProjectCommand::Create { name, server } => {
            let _: NewProject = server
                .client()?
                .post("/projects", &NewProject { name: name.clone() })
                .await?;
            eprintln!("project {name} created");
        }
        ProjectCommand::List { server } => {
            let projects = server
                .client()?
                .all_pages("/projects", |p: ProjectList| (p.projects, p.next_cursor))
                .await?;
            for p in projects {
                println!("{}\t{}", p.name, p.created_at);
            }
        }
        ProjectCommand::Delete { name, server } => {
            let () = server
                .client()?
                .delete(&format!("/projects/{}", encode(&name)))
                .await?;
            eprintln!("project {name} deleted");
        }
        ProjectCommand::Member(cmd) => member(cmd).await?,
    }
    Ok(())
}

async fn member(cmd: MemberCommand) -> anyhow::Result<()> {
    let path = |p: &str, u: &str| format!("/projects/{}/members/{}", encode(p), encode(u));
    match cmd {
        MemberCommand::Add {
            project,
            user,
            role,
            server,
        } => {
            let m: ProjectMember = server
                .client()?
                .put(&path(&project, &user), &SetMember { role })
                .await?;
            eprintln!("{} is {} of {project}", m.user, m.role);
        }
        MemberCommand::Remove {
            project,
            user,
            server,
        } => {
            let () = server.client()?.delete(&path(&project, &user)).await?;
            eprintln!("{user} is no longer a member of {project}");
        }
        MemberCommand::List { project, server } => {
            let uri = format!("/projects/{}/members", encode(&project));
            let members = server
                .client()?
                .all_pages(&uri, |p: MemberList| (p.members, p.next_cursor))
                .await?;
            for m in members {
                println!("{}\t{}", m.user, m.role);
            }
        }
    }
    Ok(())
}

/// `baton audit list`.
pub async fn audit(cmd: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::List {
        since,
        user,
        limit,
        server,
    } = cmd;
    let mut query = format!("/audit?limit={limit}");
    if let Some(since) = since {
        let at = chrono::Utc::now()
            - chrono::Duration::from_std(since)
                .map_err(|_| Exit::BadInput("`--since` is too long".into()))?;
        let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        query.push_str(&format!("&since={}", encode(&at)));
    }
    if let Some(user) = user {
        query.push_str(&format!("&user={}", encode(&user)));
    }
    let list: AuditList = server.client()?.get(&query).await?;
    for e in list.entries {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            e.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            e.user.as_deref().unwrap_or("-"),
            e.address.as_deref().unwrap_or("-"),
            e.action,
            e.target,
            match e.outcome {
                AuditOutcome::Allowed => "allowed",
                AuditOutcome::Denied => "denied",
                AuditOutcome::Failed => "failed",
            },
            e.status
        );
    }
    Ok(())
}

/// `baton whoami`: who the stored login (or `BATON_TOKEN`) is on the server.
pub async fn whoami(server: ServerArgs) -> anyhow::Result<()> {
    let me: Me = server.client()?.get("/auth/me").await?;
    let admin = if me.global_admin {
        " (global admin)"
    } else {
        ""
    };
    println!("{}{admin}", me.name);
    if me.token_project.is_some() || me.token_role.is_some() {
        let project = me.token_project.as_deref().unwrap_or("any project");
        let role = me
            .token_role
            .map_or("the user's role".into(), |r| r.to_string());
        println!("(this token: {project}, at most {role})");
    }
    for r in me.roles {
        println!("{}\t{}", r.project, r.role);
    }
    Ok(())
}
