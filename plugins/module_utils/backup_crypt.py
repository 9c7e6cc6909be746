# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups encrypted with age (https://age-encryption.org, Debian ``age``): written by the backup, read by restores.

- Encrypting: ``age --encrypt -r <recipient>... -R <recipients file>`` streams the item (bytes, or the stdout of
  ``pg_dump``) into the ciphertext ``<name>.age``; no plaintext touches the disk. The ciphertext goes to a hidden
  ``.<name>.age.partial`` created 0600 before age writes a byte, is fsynced and renamed when age succeeded, and
  removed on any failure, so an interrupted backup is never "the newest".
- Recipients are checked by age itself before anything is written: it encrypts nothing to ``/dev/null`` with
  them, and refuses a malformed recipient or an unreadable recipients file with its own message.
- Decrypting: ``age --decrypt -i <identity file>`` into a 0600 temporary file the restore reads (and the module
  removes at exit), with the ciphertext's modification time (the backup's time for the data-loss window).

age(1), "-r, --recipient", "-R, --recipients-file", "-i, --identity", "-o, --output"; the format:
https://github.com/C2SP/C2SP/blob/main/age.md (a file starts with ``age-encryption.org/v1``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import subprocess
import tempfile

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

SUFFIX = ".age"
MAGIC = b"age-encryption.org/v1"
ENCRYPT_OPTIONS = dict(
    recipients=dict(type="list", elements="str", default=[]),
    recipients_file=dict(type="path"),
)
# The restore modules' option (doc fragment rollback.core.decrypt).
DECRYPT_SPEC = dict(decrypt_identity=dict(type="path"))


def is_encrypted(path):
    return bool(path) and path.endswith(SUFFIX)


def plain_name(name):
    """The name of the backup an encrypted ``<name>.age`` holds (the restore's pattern matches it)."""
    return name[:-len(SUFFIX)] if is_encrypted(name) else name


def age_binary():
    found = shutil.which("age")
    if not found:
        raise RollbackError("age is not installed on this host (Debian/Ubuntu: apt-get install age): it encrypts and "
                            "decrypts the backups; nothing was changed")
    return found


def _reason(stderr):
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("age: error:")]
    return (errors or lines or ["no message"])[0].replace("age: error: ", "")


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class Encryptor:
    """Encrypts backup items to the recipients of the backup module's ``encrypt`` option, checked on creation."""

    def __init__(self, encrypt):
        self.binary = age_binary()
        recipients, recipients_file = encrypt.get("recipients") or [], encrypt.get("recipients_file")
        if not recipients and not recipients_file:
            raise RollbackError("encrypt needs recipients (age public keys age1...) or a recipients_file")
        self.args = []
        for recipient in recipients:
            self.args += ["-r", recipient]
        if recipients_file:
            if not os.access(recipients_file, os.R_OK):
                raise RollbackError("cannot read the age recipients_file %s: nothing was backed up" % recipients_file)
            self.args += ["-R", recipients_file]
        checked = subprocess.run([self.binary, "--encrypt"] + self.args + ["-o", os.devnull], input=b"",
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        if checked.returncode != 0:
            raise RollbackError("age refuses the encrypt recipients: %s; nothing was backed up"
                                % _reason(checked.stderr))

    def write(self, path, data=None, source=None):
        """Encrypt ``data`` (bytes or text), or the stdout of ``source`` (``(argv, env, what)``), to ``path``."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        partial = os.path.join(os.path.dirname(path), ".%s.partial" % os.path.basename(path))
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                if source is None:
                    done = subprocess.run([self.binary, "--encrypt"] + self.args, input=data, stdout=descriptor,
                                          stderr=subprocess.PIPE, check=False)
                    failed = done.returncode != 0 and "age: %s" % _reason(done.stderr)
                else:
                    failed = self._pipe(source, descriptor)
                if failed:
                    raise RollbackError("encrypting %s failed: %s" % (path, failed))
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            os.rename(partial, path)
        except BaseException:
            _remove(partial)
            raise
        return path

    def _pipe(self, source, descriptor):
        """``source``'s stdout through age into ``descriptor``; the failure, or None."""
        argv, env, what = source
        with tempfile.TemporaryFile() as errors:
            producer = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, env=env)
            encrypt = subprocess.Popen([self.binary, "--encrypt"] + self.args, stdin=producer.stdout,
                                       stdout=descriptor, stderr=subprocess.PIPE)
            producer.stdout.close()  # age alone reads it: the producer sees a broken pipe if age dies
            age_errors = encrypt.communicate()[1]
            producer.wait()
            errors.seek(0)
            if producer.returncode != 0:
                lines = [line for line in errors.read().decode("utf-8", "replace").splitlines() if line.strip()]
                return "%s: %s" % (what, lines[-1] if lines else "exit %d" % producer.returncode)
        return "age: %s" % _reason(age_errors) if encrypt.returncode != 0 else None


def decrypt(path, identity, what="backup"):
    """Decrypt ``path`` with the age ``identity`` file into a 0600 temporary file (the caller removes it)."""
    if not identity:
        raise RollbackError("%s %s is encrypted with age: give decrypt_identity (the age identity file that "
                            "decrypts it); nothing was changed" % (what, path))
    if not os.path.isfile(identity) or not os.access(identity, os.R_OK):
        raise RollbackError("cannot read the age identity file %s (decrypt_identity); nothing was changed" % identity)
    binary = age_binary()
    handle, plain = tempfile.mkstemp(prefix=".rollback-core-", suffix="-" + plain_name(os.path.basename(path)))
    try:
        try:
            done = subprocess.run([binary, "--decrypt", "-i", identity, path], stdout=handle,
                                  stderr=subprocess.PIPE, check=False)
            if done.returncode != 0:
                raise RollbackError("cannot decrypt %s %s with the identity %s: %s; nothing was changed" % (
                    what, path, identity, _reason(done.stderr)))
            os.fsync(handle)
        finally:
            os.close(handle)
        moment = os.stat(path).st_mtime
        os.utime(plain, (moment, moment))
    except BaseException:
        _remove(plain)
        raise
    return plain


def open_backup(module, key, what):
    """Replace an encrypted ``module.params[key]`` by its decryption (removed when the module exits); the
    encrypted path, or None when the backup is not encrypted."""
    encrypted = module.params[key]
    if not is_encrypted(encrypted):
        return None
    module.params[key] = decrypt(encrypted, module.params.get("decrypt_identity"), what)
    module.add_cleanup_file(module.params[key])
    # What names the temporary file across runs: the s3:// URL it was fetched from (backups._s3_backup), or the
    # encrypted file.
    module.restore_source = getattr(module, "restore_source", None) or encrypted
    return encrypted
