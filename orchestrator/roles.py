"""Least privilege (`ytempire db roles`): a writer role for dbt and the wrapper, a reader role
for dashboards.

- The writer (`YTEMPIRE_WRITER_ROLE`, default `ytempire_writer`) owns the schemas raw, staging,
  analytics, ops and diagnostics and every relation in them, may create schemas in the database
  (dbt, the wrapper and the maintenance macros run `create schema if not exists`), is a member
  of `pg_monitor` (read-only statistics and settings: pg_stat_statements' text, pgstattuple,
  shared_preload_libraries) and may run `pg_stat_statements_reset()` (the diagnostics and
  maintenance operations). Nothing more: no superuser, CREATEDB, CREATEROLE, REPLICATION or
  BYPASSRLS.
- The reader (`YTEMPIRE_READER_ROLE`, default `ytempire_reader`) may connect, use schema
  analytics and SELECT its relations, and nothing else: any explicit privilege it holds in raw,
  staging, ops or diagnostics (or beyond SELECT in analytics) is revoked, and so is anything
  PUBLIC was granted on those four schemas. Default privileges give it SELECT on every relation
  the writer creates in analytics later; dbt re-grants it on every build of the marts when
  YTEMPIRE_READER_ROLE is set (dbt_project.yml `+grants`).

Both are NOLOGIN group roles unless `YTEMPIRE_WRITER_PASSWORD` / `YTEMPIRE_READER_PASSWORD` is
set: then the role gets LOGIN and that password, sent to the server as a SCRAM-SHA-256 verifier
computed here (the password itself never reaches the server, its log or our output). Without the
variable an existing role's LOGIN and password are left as they are.

`plan()` reads the catalogs and lists only what differs, so a second run changes nothing and
says so. Roles are cluster-wide; privileges are per database (the connection's).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from orchestrator.connection import Connection, connect
from orchestrator.errors import ConfigError

ENV_WRITER_ROLE = "YTEMPIRE_WRITER_ROLE"
ENV_READER_ROLE = "YTEMPIRE_READER_ROLE"
ENV_WRITER_PASSWORD = "YTEMPIRE_WRITER_PASSWORD"
ENV_READER_PASSWORD = "YTEMPIRE_READER_PASSWORD"
DEFAULT_WRITER_ROLE = "ytempire_writer"
DEFAULT_READER_ROLE = "ytempire_reader"

# Every schema the project writes (dbt_project.yml `+schema`s, raw_schema.sql, the wrapper's ops)
WRITER_SCHEMAS = ("raw", "staging", "analytics", "ops", "diagnostics")
READER_SCHEMA = "analytics"
CLOSED_SCHEMAS = tuple(schema for schema in WRITER_SCHEMAS if schema != READER_SCHEMA)
# The predefined role the diagnostics and maintenance operations need: pg_read_all_settings
# (shared_preload_libraries), pg_read_all_stats (every statement's text in pg_stat_statements),
# pg_stat_scan_tables (pgstattuple_approx). Statistics and settings, no table data.
WRITER_MEMBER_OF = ("pg_monitor",)
WRITER_DATABASE_PRIVILEGES = ("CONNECT", "TEMPORARY", "CREATE")
READER_DATABASE_PRIVILEGES = ("CONNECT",)
# The attributes neither role may have (pg_authid column, keyword that turns it off)
UNPRIVILEGED = (
    ("rolsuper", "NOSUPERUSER"),
    ("rolcreatedb", "NOCREATEDB"),
    ("rolcreaterole", "NOCREATEROLE"),
    ("rolreplication", "NOREPLICATION"),
    ("rolbypassrls", "NOBYPASSRLS"),
)
RELATION_KINDS = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW",
                  "f": "FOREIGN TABLE", "S": "SEQUENCE"}  # fmt: skip
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RETRIES = 3  # a concurrent `db roles` on the same cluster: plan again


@dataclass(frozen=True)
class RoleSpec:
    name: str
    password_variable: str
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RoleSettings:
    writer: RoleSpec
    reader: RoleSpec


@dataclass(frozen=True)
class Change:
    """One thing `db roles` does: a sentence (never a password) and its statements."""

    description: str
    statements: tuple[sql.Composable, ...]


@dataclass(frozen=True)
class RolesReport:
    settings: RoleSettings
    database: str
    changes: tuple[Change, ...]
    warnings: tuple[str, ...]
    applied: bool  # False for a dry run


def _role_name(environ: Mapping[str, str], variable: str, default: str) -> str:
    name = environ.get(variable, "").strip() or default
    if not ROLE_NAME.match(name) or name.startswith("pg_"):
        raise ConfigError(
            f"{variable} is not a usable role name: use lowercase letters, digits and "
            "underscores (at most 63, not starting with a digit or pg_)."
        )
    return name


def settings_from_env(environ: Mapping[str, str] | None = None) -> RoleSettings:
    """The role names and passwords from the environment (passwords never printed)."""
    env = os.environ if environ is None else environ
    writer = _role_name(env, ENV_WRITER_ROLE, DEFAULT_WRITER_ROLE)
    reader = _role_name(env, ENV_READER_ROLE, DEFAULT_READER_ROLE)
    if writer == reader:
        raise ConfigError(
            f"{ENV_WRITER_ROLE} and {ENV_READER_ROLE} name the same role: the writer and the "
            "reader must be two roles."
        )
    return RoleSettings(
        writer=RoleSpec(writer, ENV_WRITER_PASSWORD, env.get(ENV_WRITER_PASSWORD) or None),
        reader=RoleSpec(reader, ENV_READER_PASSWORD, env.get(ENV_READER_PASSWORD) or None),
    )


# --- SCRAM-SHA-256 verifiers (RFC 5802 / 7677, as PostgreSQL stores them) --------------------


def scram_matches(verifier: str | None, password: str) -> bool:
    """Whether `verifier` (pg_authid.rolpassword) was made from `password`. PostgreSQL applies
    SASLprep to the password; NFKC is its core (pure ASCII is unchanged), and a password it
    would map differently is merely set again."""
    if not verifier or not verifier.startswith("SCRAM-SHA-256$"):
        return False
    try:
        iterations_salt, keys = verifier[len("SCRAM-SHA-256$") :].split("$")
        iterations, salt = iterations_salt.split(":")
        stored_key, server_key = (base64.b64decode(part) for part in keys.split(":"))
        salted = hashlib.pbkdf2_hmac(
            "sha256",
            unicodedata.normalize("NFKC", password).encode(),
            base64.b64decode(salt),
            int(iterations),
        )
    except ValueError:
        return False
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), stored_key) and (
        hmac.compare_digest(server, server_key)
    )


def _verifier(db: psycopg.Connection, role: RoleSpec) -> str:
    assert role.password is not None
    encrypted = db.pgconn.encrypt_password(
        role.password.encode(), role.name.encode(), b"scram-sha-256"
    )
    return encrypted.decode()


# --- the plan -------------------------------------------------------------------------------


def _role_changes(db: psycopg.Connection, role: RoleSpec) -> list[Change]:
    ident = sql.Identifier(role.name)
    row = db.execute(
        "select rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, "
        "rolcanlogin, rolpassword from pg_authid where rolname = %s",
        (role.name,),
    ).fetchone()
    if row is None:
        if role.password:
            return [
                Change(
                    f"created role {role.name} (LOGIN, password from {role.password_variable})",
                    (
                        sql.SQL("create role {} with login password {}").format(
                            ident, sql.Literal(_verifier(db, role))
                        ),
                    ),
                )
            ]
        return [
            Change(
                f"created role {role.name} (NOLOGIN: grant it to login roles, or set "
                f"{role.password_variable} and run again)",
                (sql.SQL("create role {} with nologin").format(ident),),
            )
        ]
    changes = []
    extra = [keyword for (_, keyword), value in zip(UNPRIVILEGED, row[:5], strict=True) if value]
    if extra:
        changes.append(
            Change(
                f"made role {role.name} {' '.join(extra)}",
                (sql.SQL("alter role {} with {}").format(ident, sql.SQL(" ".join(extra))),),
            )
        )
    can_login, stored = row[5], row[6]
    if role.password and not (can_login and scram_matches(stored, role.password)):
        what = "set the password" if can_login else "enabled LOGIN and set the password"
        changes.append(
            Change(
                f"{what} of role {role.name} (from {role.password_variable})",
                (
                    sql.SQL("alter role {} with login password {}").format(
                        ident, sql.Literal(_verifier(db, role))
                    ),
                ),
            )
        )
    return changes


def _memberships(db: psycopg.Connection, role: str) -> set[str]:
    rows = db.execute(
        "select granted.rolname from pg_auth_members m "
        "join pg_roles granted on granted.oid = m.roleid "
        "where m.member = (select oid from pg_roles where rolname = %s)",
        (role,),
    ).fetchall()
    return {name for (name,) in rows}


def _database_privileges(db: psycopg.Connection, role: str) -> set[str]:
    rows = db.execute(
        "select acl.privilege_type from pg_database d, "
        "aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) acl "
        "where d.datname = current_database() "
        "and acl.grantee = (select oid from pg_roles where rolname = %s)",
        (role,),
    ).fetchall()
    return {privilege for (privilege,) in rows}


def _schema_changes(db: psycopg.Connection, writer: str) -> list[Change]:
    owners = dict(
        db.execute(
            "select nspname, pg_get_userbyid(nspowner) from pg_namespace where nspname = any(%s)",
            (list(WRITER_SCHEMAS),),
        ).fetchall()
    )
    changes = []
    for schema in WRITER_SCHEMAS:
        ident = sql.Identifier(schema)
        if schema not in owners:
            changes.append(
                Change(
                    f"created schema {schema} owned by {writer}",
                    (
                        sql.SQL("create schema {} authorization {}").format(
                            ident, sql.Identifier(writer)
                        ),
                    ),
                )
            )
        elif owners[schema] != writer:
            changes.append(
                Change(
                    f"made {writer} the owner of schema {schema} (was {owners[schema]})",
                    (sql.SQL("alter schema {} owner to {}").format(ident, sql.Identifier(writer)),),
                )
            )
    return changes


def _ownership_change(db: psycopg.Connection, writer: str) -> list[Change]:
    """Every relation of the writer's schemas not owned by it (sequences owned by a column move
    with their table, indexes and TOAST tables too)."""
    rows = db.execute(
        """
        select n.nspname, c.relname, c.relkind
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any(%s)
          and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
          and c.relowner is distinct from (select oid from pg_roles where rolname = %s)
          and not (c.relkind = 'S' and exists (
              select 1 from pg_depend d
              where d.classid = 'pg_class'::regclass and d.objid = c.oid
                and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')))
        order by n.nspname, c.relname
        """,
        (list(WRITER_SCHEMAS), writer),
    ).fetchall()
    if not rows:
        return []
    per_schema: dict[str, int] = {}
    statements = []
    for schema, relation, kind in rows:
        per_schema[schema] = per_schema.get(schema, 0) + 1
        statements.append(
            sql.SQL("alter {} {} owner to {}").format(
                sql.SQL(RELATION_KINDS[kind]),
                sql.Identifier(schema, relation),
                sql.Identifier(writer),
            )
        )
    where = ", ".join(f"{schema} {count}" for schema, count in per_schema.items())
    return [
        Change(f"made {writer} the owner of {len(rows)} relations ({where})", tuple(statements))
    ]


def _statements_reset_change(db: psycopg.Connection, writer: str) -> list[Change]:
    rows = db.execute(
        """
        select p.oid::regprocedure::text
        from pg_proc p
        where p.proname = 'pg_stat_statements_reset'
          and not exists (
              select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) acl
              where acl.grantee = (select oid from pg_roles where rolname = %s)
                and acl.privilege_type = 'EXECUTE')
        """,
        (writer,),
    ).fetchall()
    if not rows:
        return []
    return [
        Change(
            f"granted EXECUTE on pg_stat_statements_reset() to {writer}",
            tuple(
                sql.SQL("grant execute on function {} to {}").format(
                    sql.SQL(signature), sql.Identifier(writer)
                )
                for (signature,) in rows
            ),
        )
    ]


def _reader_excess(db: psycopg.Connection, settings: RoleSettings) -> list[Change]:
    """Revoke what the reader (or PUBLIC, on the closed schemas) must not have."""
    reader = settings.reader.name
    ident = sql.Identifier(reader)
    changes = []
    schema_rows = db.execute(
        """
        select n.nspname, acl.privilege_type, acl.grantee = 0 as to_public
        from pg_namespace n, aclexplode(n.nspacl) acl
        where n.nspname = any(%s)
          and (acl.grantee = (select oid from pg_roles where rolname = %s)
               or (acl.grantee = 0 and n.nspname <> %s))
          and not (n.nspname = %s and acl.privilege_type = 'USAGE' and acl.grantee <> 0)
        order by 1, 2
        """,
        (list(WRITER_SCHEMAS), reader, READER_SCHEMA, READER_SCHEMA),
    ).fetchall()
    for schema, privilege, to_public in schema_rows:
        grantee = sql.SQL("public") if to_public else ident
        who = "PUBLIC" if to_public else reader
        changes.append(
            Change(
                f"revoked {privilege} on schema {schema} from {who}",
                (
                    sql.SQL("revoke {} on schema {} from {}").format(
                        sql.SQL(privilege), sql.Identifier(schema), grantee
                    ),
                ),
            )
        )
    relation_rows = db.execute(
        """
        select n.nspname, c.relkind = 'S', count(distinct c.oid)
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace,
        aclexplode(c.relacl) acl
        where n.nspname = any(%s)
          and acl.grantee = (select oid from pg_roles where rolname = %s)
          and not (n.nspname = %s and acl.privilege_type = 'SELECT' and c.relkind <> 'S')
        group by 1, 2 order by 1, 2
        """,
        (list(WRITER_SCHEMAS), reader, READER_SCHEMA),
    ).fetchall()
    for schema, sequences, count in relation_rows:
        if sequences:
            statement = sql.SQL("revoke all on all sequences in schema {} from {}")
            what, kind = "every privilege", "sequences"
        elif schema == READER_SCHEMA:
            statement = sql.SQL(
                "revoke insert, update, delete, truncate, references, trigger on all tables "
                "in schema {} from {}"
            )
            what, kind = "every privilege but SELECT", "relations"
        else:
            statement = sql.SQL("revoke all on all tables in schema {} from {}")
            what, kind = "every privilege", "relations"
        changes.append(
            Change(
                f"revoked {what} on {count} {kind} in {schema} from {reader}",
                (statement.format(sql.Identifier(schema), ident),),
            )
        )
    return changes


def _reader_grants(db: psycopg.Connection, settings: RoleSettings) -> list[Change]:
    writer, reader = settings.writer.name, settings.reader.name
    changes = []
    schema_usage = db.execute(
        """
        select 1 from pg_namespace n, aclexplode(n.nspacl) acl
        where n.nspname = %s and acl.privilege_type = 'USAGE'
          and acl.grantee = (select oid from pg_roles where rolname = %s)
        """,
        (READER_SCHEMA, reader),
    ).fetchone()
    if schema_usage is None:
        changes.append(
            Change(
                f"granted USAGE on schema {READER_SCHEMA} to {reader}",
                (
                    sql.SQL("grant usage on schema {} to {}").format(
                        sql.Identifier(READER_SCHEMA), sql.Identifier(reader)
                    ),
                ),
            )
        )
    (missing,) = db.execute(
        """
        select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm', 'f')
          and not exists (
              select 1 from aclexplode(c.relacl) acl
              where acl.privilege_type = 'SELECT'
                and acl.grantee = (select oid from pg_roles where rolname = %s))
        """,
        (READER_SCHEMA, reader),
    ).fetchone()
    if missing:
        changes.append(
            Change(
                f"granted SELECT on {missing} relations in {READER_SCHEMA} to {reader}",
                (
                    sql.SQL("grant select on all tables in schema {} to {}").format(
                        sql.Identifier(READER_SCHEMA), sql.Identifier(reader)
                    ),
                ),
            )
        )
    default = db.execute(
        """
        select 1 from pg_default_acl d
        join pg_namespace n on n.oid = d.defaclnamespace,
        aclexplode(d.defaclacl) acl
        where n.nspname = %s and d.defaclobjtype = 'r'
          and d.defaclrole = (select oid from pg_roles where rolname = %s)
          and acl.grantee = (select oid from pg_roles where rolname = %s)
          and acl.privilege_type = 'SELECT'
        """,
        (READER_SCHEMA, writer, reader),
    ).fetchone()
    if default is None:
        changes.append(
            Change(
                f"default privileges: {reader} may SELECT every table and view {writer} "
                f"creates in {READER_SCHEMA}",
                (
                    sql.SQL(
                        "alter default privileges for role {} in schema {} grant select on "
                        "tables to {}"
                    ).format(
                        sql.Identifier(writer),
                        sql.Identifier(READER_SCHEMA),
                        sql.Identifier(reader),
                    ),
                ),
            )
        )
    return changes


def _database_grant(db: psycopg.Connection, role: str, wanted: Sequence[str]) -> list[Change]:
    missing = [privilege for privilege in wanted if privilege not in _database_privileges(db, role)]
    if not missing:
        return []
    (database,) = db.execute("select current_database()").fetchone()
    return [
        Change(
            f"granted {', '.join(missing)} on database {database} to {role}",
            (
                sql.SQL("grant {} on database {} to {}").format(
                    sql.SQL(", ").join(sql.SQL(privilege) for privilege in missing),
                    sql.Identifier(database),
                    sql.Identifier(role),
                ),
            ),
        )
    ]


def plan(db: psycopg.Connection, settings: RoleSettings) -> list[Change]:
    """What differs from the wanted state, in the order it must be done (roles first)."""
    writer, reader = settings.writer.name, settings.reader.name
    changes = _role_changes(db, settings.writer) + _role_changes(db, settings.reader)
    missing_memberships = [r for r in WRITER_MEMBER_OF if r not in _memberships(db, writer)]
    if missing_memberships:
        changes.append(
            Change(
                f"granted {', '.join(missing_memberships)} to {writer} (diagnostics, maintenance)",
                (
                    sql.SQL("grant {} to {}").format(
                        sql.SQL(", ").join(map(sql.Identifier, missing_memberships)),
                        sql.Identifier(writer),
                    ),
                ),
            )
        )
    changes += _database_grant(db, writer, WRITER_DATABASE_PRIVILEGES)
    changes += _schema_changes(db, writer)
    changes += _ownership_change(db, writer)
    changes += _statements_reset_change(db, writer)
    changes += _database_grant(db, reader, READER_DATABASE_PRIVILEGES)
    changes += _reader_excess(db, settings)
    changes += _reader_grants(db, settings)
    return changes


def _warnings(db: psycopg.Connection, settings: RoleSettings) -> list[str]:
    reader = settings.reader.name
    member_of = sorted(_memberships(db, reader))
    if not member_of:
        return []
    return [
        f"{reader} is a member of {', '.join(member_of)} and has its privileges too: "
        f"`revoke {', '.join(member_of)} from {reader}` unless that is intended."
    ]


def _require_superuser(db: psycopg.Connection, conn: Connection) -> None:
    row = db.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()
    if not row or not row[0]:
        raise ConfigError(
            f"{conn.user} is not a superuser: `ytempire db roles` creates roles, grants "
            "privileges and hands over ownership; run it with PGUSER set to a superuser "
            "(the embedded server's postgres is one)."
        )


def ensure_roles(
    conn: Connection, settings: RoleSettings | None = None, *, dry_run: bool = False
) -> RolesReport:
    """Bring roles and privileges to the wanted state in one transaction (or, with `dry_run`,
    only say what would change). Concurrent runs on one cluster are retried."""
    settings = settings or settings_from_env()
    try:
        return _ensure_roles(conn, settings, dry_run)
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ConfigError(
            f"`ytempire db roles` could not finish on {conn.describe()} ({reason}): nothing was "
            "changed."
        ) from None


def _ensure_roles(conn: Connection, settings: RoleSettings, dry_run: bool) -> RolesReport:
    for attempt in range(RETRIES):
        try:
            with connect(conn, autocommit=False) as db:
                _require_superuser(db, conn)
                changes = plan(db, settings)
                warnings = _warnings(db, settings)
                if not dry_run:
                    for change in changes:
                        for statement in change.statements:
                            db.execute(statement)
                    db.commit()
                return RolesReport(
                    settings, conn.dbname, tuple(changes), tuple(warnings), not dry_run
                )
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject):
            if attempt == RETRIES - 1:
                raise
        except psycopg.errors.InternalError as exc:  # "tuple concurrently updated"
            if "concurrently" not in str(exc) or attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def describe(report: RolesReport) -> list[str]:
    """The lines `ytempire db roles` prints (no password, ever)."""
    writer, reader = report.settings.writer.name, report.settings.reader.name
    lines = []
    if not report.changes:
        lines.append(
            f"roles {writer} and {reader} and their privileges on database {report.database} "
            "are already in place: nothing changed."
        )
    elif report.applied:
        lines.append(f"{len(report.changes)} changes on database {report.database}:")
        lines += [f"  {change.description}" for change in report.changes]
    else:
        lines.append(
            f"{len(report.changes)} changes pending on database {report.database} "
            "(dry run: nothing done); a run would have:"
        )
        lines += [f"  {change.description}" for change in report.changes]
    lines += [f"warning: {warning}" for warning in report.warnings]
    return lines


def next_steps(settings: RoleSettings) -> list[str]:
    """How to use the roles (printed after a run that changed something)."""
    writer, reader = settings.writer.name, settings.reader.name
    return [
        f"dbt and the wrapper connect as {writer} (PGUSER={writer}, its password in "
        f"PGPASSWORD), or as a login role given it with `grant {writer} to <login>; "
        f"alter role <login> set role {writer}` (so that what it builds belongs to {writer}).",
        f"dashboards connect as {reader}, or as a login role given it with "
        f"`grant {reader} to <login>`.",
        f"export {ENV_READER_ROLE}={reader} where builds run: every dbt build then grants "
        "SELECT on the marts to it again.",
    ]
