#!/bin/bash
# Server CPU of the contact import's two COPYs into variants of the tables (issue 8, s37; labels updated for schema 4, s41).
# Run `import-stats 1000000 postgresql` first (it leaves schema bench_import), then: copy-variants.sh PORT [DIR]
# DIR must be writable by the server (default /tmp/copy-variants). Each line: the COPY's backend CPU (user + system, from
# log_statement_stats, i.e. getrusage of that statement in its backend, so other processes' load does not count) and its WAL.
set -euo pipefail
export PGHOST=127.0.0.1 PGPORT=${1:?port} PGUSER=postgres PGDATABASE=postgres
DIR=${2:-/tmp/copy-variants}
mkdir -p "$DIR" && chmod 777 "$DIR"
# contacts.bin holds the documents as jsonb (binary jsonb has a version byte; json's binary form is its text, which
# contacts_text.bin holds): doc is json since schema version 4 (s41), jsonb before.
psql -q -c "COPY (SELECT id, version, doc::jsonb FROM bench_import.contacts) TO '$DIR/contacts.bin' (FORMAT binary)" \
        -c "COPY (SELECT id, version, doc::text FROM bench_import.contacts) TO '$DIR/contacts_text.bin' (FORMAT binary)" \
        -c "COPY bench_import.contact_identities (kind, lookup_key, contact_id) TO '$DIR/ident.bin' (FORMAT binary)"

variant() {
  psql -q -v ON_ERROR_STOP=1 -c "DROP SCHEMA IF EXISTS copy_variants CASCADE" -c "CREATE SCHEMA copy_variants" -c "$2" -c "CHECKPOINT" 2>&1 | grep -v NOTICE || true
  local lsn0 out wal
  lsn0=$(psql -Atc "select pg_current_wal_insert_lsn()")
  out=$(psql -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = log" -c "SET log_statement_stats = on" -c "$3" 2>&1 | grep -E "s user, .* elapsed" | tail -1 | tr -d '!')
  wal=$(psql -Atc "select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$lsn0')::bigint/1000000")
  echo "$1: $(echo "$out" | awk '{printf "backend CPU %.2f s (user %.2f, sys %.2f)", $1+$4, $1, $4}') WAL ${wal} MB load $(cut -d' ' -f1 /proc/loadavg)"
}

S=copy_variants
CP="COPY $S.contacts (id, version, doc) FROM '$DIR/contacts.bin' (FORMAT binary)"
CT="COPY $S.contacts (id, version, doc) FROM '$DIR/contacts_text.bin' (FORMAT binary)"
CI="COPY $S.contact_identities (kind, lookup_key, contact_id) FROM '$DIR/ident.bin' (FORMAT binary)"
variant "A contacts as shipped up to schema 3 (seq unique, id pk, doc jsonb)" "CREATE TABLE $S.contacts (seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE, id uuid PRIMARY KEY, version bigint NOT NULL, doc jsonb NOT NULL)" "$CP"
variant "B without the seq unique index" "CREATE TABLE $S.contacts (seq bigint GENERATED ALWAYS AS IDENTITY, id uuid PRIMARY KEY, version bigint NOT NULL, doc jsonb NOT NULL)" "$CP"
variant "C without the seq column" "CREATE TABLE $S.contacts (id uuid PRIMARY KEY, version bigint NOT NULL, doc jsonb NOT NULL)" "$CP"
variant "D doc json instead of jsonb (as shipped since schema 4)" "CREATE TABLE $S.contacts (seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE, id uuid PRIMARY KEY, version bigint NOT NULL, doc json NOT NULL)" "$CT"
variant "E doc text instead of jsonb" "CREATE TABLE $S.contacts (seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE, id uuid PRIMARY KEY, version bigint NOT NULL, doc text NOT NULL)" "$CT"
variant "F no index at all (heap + jsonb)" "CREATE TABLE $S.contacts (id uuid NOT NULL, version bigint NOT NULL, doc jsonb NOT NULL)" "$CP"
variant "G UNLOGGED, as A" "CREATE UNLOGGED TABLE $S.contacts (seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE, id uuid PRIMARY KEY, version bigint NOT NULL, doc jsonb NOT NULL)" "$CP"
variant "I identities as shipped up to schema 3 (pk + contact_id index)" "CREATE TABLE $S.contact_identities (kind smallint NOT NULL, lookup_key text COLLATE \"C\" NOT NULL, contact_id uuid NOT NULL, PRIMARY KEY (kind, lookup_key)); CREATE INDEX contact_identities_contact ON $S.contact_identities (contact_id)" "$CI"
variant "J identities without the contact_id index (as shipped since schema 4)" "CREATE TABLE $S.contact_identities (kind smallint NOT NULL, lookup_key text COLLATE \"C\" NOT NULL, contact_id uuid NOT NULL, PRIMARY KEY (kind, lookup_key))" "$CI"
variant "K identities, no index" "CREATE TABLE $S.contact_identities (kind smallint NOT NULL, lookup_key text COLLATE \"C\" NOT NULL, contact_id uuid NOT NULL)" "$CI"
psql -q -c "DROP SCHEMA copy_variants CASCADE"
