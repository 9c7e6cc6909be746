#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: backup
short_description: Take, list, verify and expire the pre-deploy restore points a rollback restores
description:
  - The runbooks' checklists start with the backup ("check backup availability", "verify backup integrity",
    "identify last known good backup (before failed deployment)"). This module takes those backups before a
    deploy, in exactly the formats and under the names the restore modules read, so a rollback right after
    restores what was just taken.
  - O(action=take) takes one item of a restore point (O(kind)) and records it in the restore point's manifest
    C(<manifest_dir>/<restore_point>.json) (kind, where, size, sha256, when, the deploy it precedes). Call it
    once per kind with the same O(restore_point); the C(rollback.core.backup) role does.
  - Files are written under a hidden name and renamed when complete (a failed backup is never "the newest"),
    mode 0600, in directories created 0700.
  - With O(encrypt), a file item is encrypted with age (C(age --encrypt), streamed, no plaintext is written)
    into C(<name>.age); the restore modules take it as the newest like a plain one and decrypt it with their
    O(rollback.core.postgres_restore#module:decrypt_identity).
  - O(action=list) returns the restore points with their age, size and kinds, as data and as a text table.
  - O(action=verify) checks the newest restore point of each owner (or O(restore_point)) the way the restore
    would read it, and fails with one line per problem; with O(deep), it also restores the dumps into a scratch
    database and runs the O(verify) SQL.
  - O(action=locate) names the restore point behind each of O(backups) (the backups a rollback would use, as its
    preflight plans them) with its age, and warns when one is older than the last deploy of O(services) (their
    deploy markers in O(marker_dir)) and was not taken for it. It only reads and never fails on what it cannot read.
  - O(action=retain) removes restore points beyond the newest O(keep) or older than O(keep_days), never the
    newest one, nor the newest one holding each kind.
version_added: 0.2.0
author:
  - rollback.core maintainers (@rollback-core)
extends_documentation_fragment:
  - rollback.core.etcd
  - rollback.core.kube_auth
  - rollback.core.aws
  - rollback.core.wait
options:
  action:
    description:
      - What to do.
    type: str
    choices: [take, list, verify, retain, locate]
    default: take
  manifest_dir:
    description:
      - Directory of the restore points' manifests (one JSON file per restore point).
    type: path
    required: true
  owner:
    description:
      - The service or database the restore point belongs to (its inventory name). Required with O(action=take).
      - With the other actions, only this owner's restore points; default, every owner's.
    type: str
  restore_point:
    description:
      - Id of the restore point. With O(action=take), default C(<owner>-<UTC stamp>); give the same id to every
        item of one run.
      - With O(action=verify), the restore point to verify instead of the newest of each owner.
    type: str
  deploy_id:
    description:
      - The deploy the restore point precedes (the pipeline's id); recorded in the manifest and on snapshots.
      - Default, the restore point id.
    type: str
  kind:
    description:
      - What O(action=take) backs up.
      - V(etcd) the keys under O(prefix) as a flat JSON object; V(kubernetes) the O(configmaps) and O(secrets) as
        a JSON C(List); V(env_file) the file O(path); V(postgres) C(pg_dump) of O(db); V(rds) a manual snapshot of
        O(db_instance_identifier); V(marker) the O(revision), O(image) or O(release) running before the deploy.
    type: str
    choices: [etcd, kubernetes, env_file, postgres, rds, marker]
  backup_dir:
    description:
      - Where V(etcd), V(kubernetes) and V(env_file) backups go (V(env_file) default, beside the file), the
        C(backup_dir) the restore reads.
    type: path
  backup_pattern:
    description:
      - The restore's pattern, with one C(*) where the time goes (C(demo-config-*.json)); the backup is named
        after it so the restore takes it as the newest.
      - Default C(etcd-*.json), C(<first object>-*.json), C(<file name>.backup-*).
    type: str
  prefix:
    description:
      - V(etcd) only. The key prefix to back up.
    type: str
  namespace:
    description:
      - V(kubernetes) only. Namespace of the objects.
    type: str
    default: default
  configmaps:
    description:
      - V(kubernetes) only. Names of the ConfigMaps to back up.
    type: list
    elements: str
    default: []
  secrets:
    description:
      - V(kubernetes) only. Names of the Secrets to back up (the file is 0600).
    type: list
    elements: str
    default: []
  path:
    description:
      - V(env_file) only. The env file to back up.
    type: path
  db:
    description:
      - V(postgres) only. The database to dump.
    type: str
  dump_dir:
    description:
      - V(postgres) only. Directory of the dumps (the C(dump_dir) of M(rollback.core.postgres_restore)).
    type: path
  dump_pattern:
    description:
      - V(postgres) only. The restore's pattern with one C(*); default C(<db>-*.dump).
    type: str
  dump_format:
    description:
      - V(postgres) only. C(pg_dump --format).
    type: str
    choices: [custom, directory]
    default: custom
  jobs:
    description:
      - V(postgres) only. C(pg_dump --jobs) with O(dump_format=directory).
    type: int
    default: 1
  pg_bin_dir:
    description:
      - Directory of C(pg_dump) and C(pg_restore); default, from PATH or the newest installed.
    type: path
  login_host:
    description:
      - V(postgres) only. Host of the PostgreSQL server.
    type: str
    default: localhost
  login_port:
    description:
      - V(postgres) only. Port of the PostgreSQL server.
    type: int
    default: 5432
  login_user:
    description:
      - V(postgres) only. Role to dump as (needs to read every object of O(db)).
    type: str
    default: postgres
  login_password:
    description:
      - V(postgres) only. Password of O(login_user), passed to C(pg_dump) through its environment.
    type: str
  db_instance_identifier:
    description:
      - V(rds) only. The DB instance to snapshot. The snapshot is C(<instance>-predeploy-<stamp>), tagged
        C(rollback:restore-point), C(rollback:deploy-id) and C(rollback:owner), and waited for until available.
    type: str
  revision:
    description:
      - V(marker) only. The revision running before the deploy.
    type: str
  image:
    description:
      - V(marker) only. The image running before the deploy.
    type: str
  release:
    description:
      - V(marker) only. The release running before the deploy.
    type: str
  version:
    description:
      - V(marker) with O(marker_dir) only. The version the deploy is about to install (the marker's C(version)).
    type: str
  marker_dir:
    description:
      - V(marker) only. Also write the deploy marker C(<marker_dir>/<owner>.json) (status C(in_progress), started
        now, C(previous_version) the O(revision), O(image) or O(release)) that M(rollback.core.auto_rollback) and
        the rollback's preflight read.
      - O(action=locate) only. Where the deploy markers of O(services) are.
    type: path
  services:
    description:
      - V(marker) only. Every service the same deploy changes (the marker's C(services)); default, O(owner).
      - O(action=locate) only. The services whose newest deploy the restore points are compared with; default,
        O(owner).
    type: list
    elements: str
    default: []
  backups:
    description:
      - O(action=locate) only. The backups a rollback would use (file paths, RDS snapshot ids).
    type: list
    elements: str
    default: []
  deep:
    description:
      - O(action=verify) only. Also restore each V(postgres) dump that passed into a scratch database
        C(rollback_verify_<random>) on the server of the login options (from template0, C(pg_restore --no-owner
        --no-privileges)), run O(verify) there, and drop it whatever happens. Skipped in check mode.
    type: bool
    default: false
  verify:
    description:
      - With O(deep), the service's SQL checks (those of M(rollback.core.postgres_restore) O(verify), without
        C(as_role)); a failing one is a problem of the restore point.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the check in the results.
        type: str
      sql:
        description: Query whose first column of the first row is the value.
        type: str
        required: true
      expect:
        description: The value expected (compared as text).
        type: raw
      min_rows:
        description: The fewest rows the query must return.
        type: int
  storage:
    description:
      - Also keep the file item in S3, C(s3://bucket/prefix) (V(etcd), V(kubernetes), V(env_file), V(postgres) with
        O(dump_format=custom)). The object is C(<prefix>/<file name>), the name the restore's pattern picks as
        newest, so the restore modules read it with C(s3://bucket/prefix) as their directory (or the object's URL as
        the backup); a lifecycle rule on the prefix expires old ones. The local copy stays where the restore reads.
      - The object carries the file's sha256 (metadata C(rollback-core-sha256)), checked by the restore that fetches
        it. Uses the AWS connection options.
    type: str
  sse:
    description:
      - With O(storage), the server-side encryption of the object (PutObject C(ServerSideEncryption)).
    type: str
    choices: [AES256, aws:kms]
    default: AES256
  sse_kms_key_id:
    description:
      - With O(sse=aws:kms), the KMS key (id, ARN or alias); default, the account's C(aws/s3) key.
    type: str
  encrypt:
    description:
      - Encrypt the file item with age to these recipients (C(age --encrypt -r ... -R ...)) into C(<name>.age),
        0600, the pattern's name plus C(.age). The manifest records C(encrypted) V(age) and the size and sha256 of
        the ciphertext (what O(action=verify) checks; the S3 copy of O(storage) is the ciphertext too).
      - V(etcd), V(kubernetes), V(env_file), and V(postgres) with O(dump_format=custom) (C(pg_dump) piped into
        age). Refused with O(dump_format=directory) (a directory dump is many files, use V(custom)) and for
        V(rds) (RDS encrypts its snapshots itself) and V(marker), before anything is written.
      - age missing on the host, a malformed recipient or an unreadable recipients file fail before anything is
        written (age itself checks them).
    type: dict
    suboptions:
      recipients:
        description:
          - age public keys (C(age1...), from C(age-keygen -y)) or SSH public keys (C(ssh-ed25519 ...)).
        type: list
        elements: str
        default: []
      recipients_file:
        description:
          - A file of recipients, one per line (C(age -R)).
        type: path
  decrypt_identity:
    description:
      - O(action=verify) only. The age identity file that decrypts the encrypted items, each decrypted into a
        0600 temporary file (removed after) and gets the content checks (and O(deep)) of a plain one. Without
        it, an encrypted item is checked by the size and sha256 of its ciphertext only.
    type: path
  keep:
    description:
      - V(retain) only. Restore points to keep per owner (at least 1).
    type: int
  keep_days:
    description:
      - V(retain) only. Remove restore points older than this many days.
    type: int
  ca_cert:
    description:
      - CA certificate of the etcd endpoints or of the Kubernetes API server.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Client certificate for etcd or the Kubernetes API server.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Key of O(client_cert).
    type: path
    aliases: [key_file]
  validate_certs:
    description:
      - Verify the TLS certificate of the AWS endpoint or of the Kubernetes API server.
    type: bool
    default: true
    aliases: [verify_ssl]
attributes:
  check_mode:
    description: Take reads the source (etcd, Kubernetes, the env file, the RDS instance) and reports the item it
      would write; nothing is written. Retain reports what it would remove.
    support: full
  diff_mode:
    description: Take shows the item added to the restore point; retain the restore points before and after.
    support: full
notes:
  - O(action=retain) removes files and manifests only, never manual RDS snapshots.
  - Encryption with ansible-vault and pgBackRest are not built yet (age is, O(encrypt)).
  - V(marker) with O(marker_dir) writes the deploy marker with status C(in_progress); the deploy step updates it
    (same C(deploy_id)) to C(done) or C(failed).
"""

EXAMPLES = r"""
- name: Dump the database before the deploy
  rollback.core.backup:
    owner: orders-db
    restore_point: "orders-db-{{ deploy_id }}"
    deploy_id: "{{ deploy_id }}"
    manifest_dir: /var/backups/rollback/manifests
    kind: postgres
    db: orders
    dump_dir: /var/backups/db
    dump_pattern: orders-*.dump
    login_host: db.internal
    login_password: "{{ vault_pg_password }}"

- name: Back up the env file encrypted to the operators' age keys
  rollback.core.backup:
    owner: api
    restore_point: "api-{{ deploy_id }}"
    manifest_dir: /var/backups/rollback/manifests
    kind: env_file
    path: /srv/api/.env.production
    encrypt:
      recipients:
        - age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p

- name: The restore points, as a table
  rollback.core.backup:
    action: list
    manifest_dir: /var/backups/rollback/manifests
  register: points

- name: Verify the newest restore point of every owner
  rollback.core.backup:
    action: verify
    manifest_dir: /var/backups/rollback/manifests

- name: Write the deploy marker with the restore point (the deploy starts now)
  rollback.core.backup:
    owner: api
    restore_point: "api-{{ deploy_id }}"
    deploy_id: "{{ deploy_id }}"
    manifest_dir: /var/backups/rollback/manifests
    kind: marker
    image: registry.internal/api:1.4.2
    version: 1.4.3
    marker_dir: /var/lib/rollback-core/deploys

- name: Restore the newest dump into a scratch database and run the service's checks
  rollback.core.backup:
    action: verify
    owner: orders-db
    manifest_dir: /var/backups/rollback/manifests
    deep: true
    login_host: db.internal
    login_password: "{{ vault_pg_password }}"
    verify:
      - name: orders present
        sql: SELECT count(*) > 0 FROM orders
        expect: true

- name: Keep the ten newest restore points of each owner
  rollback.core.backup:
    action: retain
    manifest_dir: /var/backups/rollback/manifests
    keep: 10
"""

RETURN = r"""
restore_point:
  description: Id of the restore point the item was added to.
  returned: action=take
  type: str
item:
  description: The item taken (kind, location, path or snapshot, size, sha256, taken_at, seconds; s3 and sse with
    O(storage); C(encrypted) V(age) with O(encrypt)), or planned in check mode.
  returned: action=take
  type: dict
items:
  description: Every item of the restore point so far.
  returned: action=take, not in check mode
  type: list
  elements: dict
manifest:
  description: Path of the restore point's manifest.
  returned: action=take, not in check mode
  type: str
restore_points:
  description:
    - O(action=list), the restore points, oldest first (restore_point, owner, deploy_id, taken, age_seconds, kinds,
      size, items, manifest).
    - O(action=locate), one row per O(backups) (backup, restore_point or null when no manifest names it, deploy_id,
      kind, taken, age_seconds, stale).
  returned: action=list, action=locate
  type: list
  elements: dict
table:
  description: The same as a fixed-width text table, one line per restore point after a header.
  returned: action=list
  type: list
  elements: str
verified:
  description: The restore points verified, with the problems found in each.
  returned: action=verify
  type: list
  elements: dict
problems:
  description: One line per problem found.
  returned: action=verify
  type: list
  elements: str
removed:
  description: Restore points removed (or that would be, in check mode).
  returned: action=retain
  type: list
  elements: str
removed_files:
  description: Files and manifests deleted.
  returned: action=retain
  type: list
  elements: str
kept:
  description: Restore points kept.
  returned: action=retain
  type: list
  elements: str
restore_point_warnings:
  description: One line per restore point older than the last deploy.
  returned: action=locate
  type: list
  elements: str
last_deploy:
  description: The newest deploy marker of O(services), or null.
  returned: action=locate
  type: dict
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils.backup_spec import BACKUP_SPEC
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils import backup_locate, backup_take, backup_verify

ACTIONS = dict(take=backup_take.take, list=backup_verify.list_points, verify=backup_verify.verify,
               retain=backup_verify.retain, locate=backup_locate.locate)


def main():
    module = RollbackModule(
        BACKUP_SPEC,
        required_if=[("action", "take", ("owner", "kind"))],
        supports_check_mode=True,
    )
    module.run(ACTIONS[module.params["action"]])


if __name__ == "__main__":
    main()
