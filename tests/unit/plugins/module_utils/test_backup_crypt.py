"""age encryption of backups (backup_crypt.py) with the real ``age`` binary (Debian ``age`` 1.1): streamed
encryption without plaintext on disk, recipients checked before any write, decryption to a 0600 temporary file.

age's behaviour cited: age(1) (-r/-R/-i, -e/-d); an age file starts with the line ``age-encryption.org/v1``
(https://github.com/C2SP/C2SP/blob/main/age.md, "Header"); a key that matches no stanza fails with
"no identity matched any of the recipients" (filippo.io/age/age.go, ``NoIdentityMatchError``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest

from ansible_collections.rollback.core.plugins.module_utils import backup_crypt, backups
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

pytestmark = pytest.mark.skipif(shutil.which("age") is None, reason="age is not installed (apt-get install age)")


def keypair(directory, name="id"):
    identity = os.path.join(str(directory), name + ".txt")
    subprocess.run(["age-keygen", "-o", identity], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", identity], check=True, capture_output=True, text=True).stdout
    return identity, public.strip()


def test_round_trip_streams_into_a_0600_ciphertext_without_plaintext_or_partial(tmp_path):
    identity, public = keypair(tmp_path)
    target = str(tmp_path / "out" / "etcd-1.json.age")
    os.mkdir(str(tmp_path / "out"))
    backup_crypt.Encryptor(dict(recipients=[public])).write(target, '{"/app/key": "s3cret"}\n')
    with open(target, "rb") as handle:
        ciphertext = handle.read()
    assert ciphertext.startswith(backup_crypt.MAGIC) and b"s3cret" not in ciphertext
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert os.listdir(str(tmp_path / "out")) == ["etcd-1.json.age"], "no partial left"
    os.utime(target, (1700000000, 1700000000))
    plain = backup_crypt.decrypt(target, identity)
    try:
        with open(plain) as handle:
            assert handle.read() == '{"/app/key": "s3cret"}\n'
        assert stat.S_IMODE(os.stat(plain).st_mode) == 0o600
        assert os.stat(plain).st_mtime == 1700000000, "the backup's time, for the data-loss window"
        assert plain.endswith("-etcd-1.json")
    finally:
        os.unlink(plain)


def test_a_recipients_file_and_the_stdout_of_a_command_are_encrypted(tmp_path):
    identity, public = keypair(tmp_path)
    recipients = tmp_path / "recipients.txt"
    recipients.write_text("# operators\n%s\n" % public)
    target = str(tmp_path / "dump.age")
    source = ([sys.executable, "-c", "import sys; sys.stdout.write('x' * 100000)"], dict(os.environ), "producer")
    backup_crypt.Encryptor(dict(recipients_file=str(recipients))).write(target, source=source)
    plain = backup_crypt.decrypt(target, identity)
    with open(plain) as handle:
        assert handle.read() == "x" * 100000
    os.unlink(plain)


def test_a_failing_producer_leaves_nothing(tmp_path):
    _identity, public = keypair(tmp_path)
    target = str(tmp_path / "dump.age")
    source = ([sys.executable, "-c", "import sys; sys.stdout.write('part'); sys.stderr.write('boom\\n'); "
                                     "sys.exit(3)"], dict(os.environ), "pg_dump of demo")
    with pytest.raises(RollbackError, match=r"^encrypting .*dump.age failed: pg_dump of demo: boom$"):
        backup_crypt.Encryptor(dict(recipients=[public])).write(target, source=source)
    assert os.listdir(str(tmp_path)) == ["id.txt"]


@pytest.mark.parametrize("encrypt, message", [
    (dict(), r"^encrypt needs recipients \(age public keys age1...\) or a recipients_file$"),
    (dict(recipients=["age1notakey"]), r"^age refuses the encrypt recipients: .*age1notakey.*; nothing was backed up$"),
    (dict(recipients_file="/nonexistent/recipients"),
     r"^cannot read the age recipients_file /nonexistent/recipients: nothing was backed up$"),
])
def test_bad_recipients_are_refused_before_any_write(tmp_path, encrypt, message):
    with pytest.raises(RollbackError, match=message):
        backup_crypt.Encryptor(encrypt)


def test_a_missing_age_binary_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(backup_crypt.shutil, "which", lambda name: None)
    with pytest.raises(RollbackError, match=r"^age is not installed on this host \(Debian/Ubuntu: apt-get install"):
        backup_crypt.Encryptor(dict(recipients=["age1x"]))
    with pytest.raises(RollbackError, match="^age is not installed"):
        backup_crypt.decrypt("/b.json.age", __file__)


def test_decrypt_refuses_no_identity_an_unreadable_one_and_a_wrong_one_leaving_no_temporary(tmp_path, monkeypatch):
    _identity, public = keypair(tmp_path)
    other, _public = keypair(tmp_path, "other")
    target = str(tmp_path / "b.env.age")
    backup_crypt.Encryptor(dict(recipients=[public])).write(target, b"A=1\n")
    # A temporary directory of its own: the shared /tmp changes under other processes (docker's runc, a parallel
    # matrix leg running this same test).
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    before = sorted(os.listdir(tempfile.gettempdir()))
    with pytest.raises(RollbackError, match=r"^env backup .*b.env.age is encrypted with age: give decrypt_identity"):
        backup_crypt.decrypt(target, None, "env backup")
    with pytest.raises(RollbackError, match=r"^cannot read the age identity file /nonexistent \(decrypt_identity\)"):
        backup_crypt.decrypt(target, "/nonexistent")
    with pytest.raises(RollbackError, match=r"^cannot decrypt backup .*b.env.age with the identity .*other.txt: "
                                            r"no identity matched any of the recipients; nothing was changed$"):
        backup_crypt.decrypt(target, other)
    assert sorted(os.listdir(tempfile.gettempdir())) == before, "no temporary file left"


def test_the_newest_backup_is_chosen_among_plain_and_encrypted_alike(tmp_path):
    for name in ("demo-20251110-090000.dump", "demo-20251112-101500.dump.age", "demo-20251111-000000.dump",
                 "demo-20251113-000000.dump.pre-rollback-x.age"):
        (tmp_path / name).write_text("x")
    assert backups.newest_backup(str(tmp_path), "demo-*.dump") == str(tmp_path / "demo-20251112-101500.dump.age")
    assert backups.is_backup("app.env.backup-1.age", "app.env.backup-*")
    assert backups.is_backup("x.age", "*.age") and not backups.is_backup("x.json.age", "*.dump")
    assert backup_crypt.plain_name("a.json.age") == "a.json" and backup_crypt.plain_name("a.json") == "a.json"
