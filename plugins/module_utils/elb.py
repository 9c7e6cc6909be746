# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Traffic at an AWS Application/Network Load Balancer (runbook 000 steps 1.2 and 4.5, runbook 003).

Drain: the target group's registered targets are saved, then deregistered.
The record lives in tags on the target group itself (or in a state file), so
a later run, even after a crash, re-registers exactly that set. Blue/green:
the listener's default action is pointed at the target group of the colour to
make live; the other target group and its targets are left as they are.

ELB tag values allow only letters, digits, spaces and ``_ . : / = + - @`` and
at most 255 characters, so the record is not JSON: each target is written as
``Id[=Port][@AvailabilityZone]``, targets are separated by spaces and spread
over numbered tags ``rollback.core/targets-before-drain/<i>``; the tag ``rollback.core/targets-before-drain``
says how many (``tags=<n> targets=<count> saved=<UTC time>``). One AddTags call writes them all.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from ansible_collections.rollback.core.plugins.module_utils.aws import AwsClient
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.toolkit import atomic_write, utc_iso
from ansible_collections.rollback.core.plugins.module_utils.wait import Waiter

SAVED_TARGETS_TAG = "rollback.core/targets-before-drain"
TAG_VALUE_MAX = 255  # the API says 256, the ELB user guide 255: the smaller one
TAGS_PER_RESOURCE = 50
TAG_TEXT = re.compile(r"^[\w .:/=+@-]*$", re.UNICODE)
HEADER = re.compile(r"^tags=(\d+) targets=(\d+)( |$)")
TARGET_GROUP_NOT_FOUND = ("TargetGroupNotFound",)
LISTENER_NOT_FOUND = ("ListenerNotFound",)
LOAD_BALANCER_NOT_FOUND = ("LoadBalancerNotFound",)
TERMINAL_ACTIONS = ("forward", "redirect", "fixed-response")
GONE_STATES = ("draining",)


# --- the saved-target record: pure functions ---------------------------------------------------------------------

def target_key(target):
    """Identity of a registered target: (Id, Port); Lambda targets have no port."""
    return target["Id"], target.get("Port")


def describe_target(target):
    """A target as the API takes it back (Id, Port, AvailabilityZone when known)."""
    kept = dict(Id=target["Id"])
    if target.get("Port") is not None:
        kept["Port"] = int(target["Port"])
    if target.get("AvailabilityZone"):
        kept["AvailabilityZone"] = target["AvailabilityZone"]
    return kept


def encode_target(target):
    text = target["Id"]
    if target.get("Port") is not None:
        text += "=%d" % int(target["Port"])
    if target.get("AvailabilityZone"):
        text += "@" + target["AvailabilityZone"]
    if " " in text or not TAG_TEXT.match(text) or len(text) > TAG_VALUE_MAX:
        raise RollbackError("target %r cannot be saved in a tag: give state_file" % text)
    return text


def decode_target(text):
    body, at, zone = text.partition("@")
    target_id, eq, port = body.rpartition("=") if "=" in body else (body, "", "")
    if not target_id or (eq and not port.isdigit()):
        raise RollbackError("unreadable saved target %r in tag %s" % (text, SAVED_TARGETS_TAG))
    target = dict(Id=target_id)
    if eq:
        target["Port"] = int(port)
    if at:
        target["AvailabilityZone"] = zone
    return target


def encode_record(targets, limit=TAG_VALUE_MAX):
    """Tag values holding ``targets``: whole entries, space separated, each value at most ``limit`` characters."""
    chunks, current = [], ""
    for target in targets:
        entry = encode_target(target)
        if current and len(current) + 1 + len(entry) > limit:
            chunks.append(current)
            current = ""
        current = entry if not current else current + " " + entry
    if current:
        chunks.append(current)
    return chunks


def record_tags(targets, saved_at=None, limit=TAG_VALUE_MAX):
    """``{tag key: value}`` of the record: chunks under ``<SAVED_TARGETS_TAG>/<i>`` and a header under the bare key.

    The header (``tags=<n> targets=<count> saved=<UTC time>``) names how many chunks belong to the record, so
    chunks left from an older, longer record are ignored and removed later.
    """
    chunks = encode_record(targets, limit)
    tags = dict(("%s/%d" % (SAVED_TARGETS_TAG, index + 1), chunk) for index, chunk in enumerate(chunks))
    tags[SAVED_TARGETS_TAG] = "tags=%d targets=%d saved=%s" % (len(chunks), len(targets), saved_at or utc_iso())
    return tags


def record_keys(tags):
    """Keys of ``tags`` that belong to a saved record (the header and every chunk, current or stale)."""
    return sorted(key for key in tags if key == SAVED_TARGETS_TAG or key.startswith(SAVED_TARGETS_TAG + "/"))


def record_from_tags(tags):
    """The saved targets in ``tags``, or None when nothing is saved; an incomplete record is an error."""
    keys = record_keys(tags)
    if not keys:
        return None
    match = HEADER.match(tags.get(SAVED_TARGETS_TAG, ""))
    chunk_keys = ["%s/%d" % (SAVED_TARGETS_TAG, index + 1) for index in range(int(match.group(1)))] if match else []
    if not match or any(key not in tags for key in chunk_keys):
        raise RollbackError("saved-targets tags %s on the target group are incomplete (%s): remove them or restore "
                            "with state_file" % (SAVED_TARGETS_TAG, ", ".join(keys)))
    targets = [decode_target(text) for key in chunk_keys for text in tags[key].split(" ") if text]
    if len(targets) != int(match.group(2)):
        raise RollbackError("saved-targets tags %s hold %d targets, the header says %s: remove them or restore with "
                            "state_file" % (SAVED_TARGETS_TAG, len(targets), match.group(2)))
    return targets


def merge_targets(first, second):
    """``first`` then the targets of ``second`` not in it (by Id and Port)."""
    seen = set(target_key(target) for target in first)
    merged = list(first)
    for target in second:
        if target_key(target) not in seen:
            seen.add(target_key(target))
            merged.append(target)
    return merged


def encoded(targets):
    """Targets as sorted short strings, for diffs and comparisons."""
    return None if targets is None else sorted(encode_target(target) for target in targets)


def forward_groups(action):
    """``[(arn, weight)]`` a forward action sends traffic to."""
    config = action.get("ForwardConfig") or {}
    groups = [(group["TargetGroupArn"], group.get("Weight")) for group in config.get("TargetGroups", [])]
    if not groups and action.get("TargetGroupArn"):
        groups = [(action["TargetGroupArn"], None)]
    return groups


def terminal_action(actions):
    """The one action that ends a listener's default actions (forward, redirect or fixed-response)."""
    terminal = [action for action in actions if action.get("Type") in TERMINAL_ACTIONS]
    return terminal[0] if terminal else None


def switched_actions(actions, target_group_arn):
    """The listener's default actions with the terminal one replaced by a forward to ``target_group_arn``.

    Authentication actions are kept; an OIDC action keeps its existing client secret (the API never returns it).
    """
    result = []
    for action in actions:
        if action.get("Type") in TERMINAL_ACTIONS:
            new = dict(Type="forward", TargetGroupArn=target_group_arn)
            if action.get("Order") is not None:
                new["Order"] = action["Order"]
            result.append(new)
        elif action.get("Type") == "authenticate-oidc":
            config = dict(action.get("AuthenticateOidcConfig") or {})
            if "ClientSecret" not in config:
                config["UseExistingClientSecret"] = True
            result.append(dict(action, AuthenticateOidcConfig=config))
        else:
            result.append(action)
    if not any(action.get("Type") == "forward" for action in result):
        result.append(dict(Type="forward", TargetGroupArn=target_group_arn))
    return result


# --- where the record is kept ------------------------------------------------------------------------------------

class TagStore:
    """The record in tags on the target group."""

    def __init__(self, elb, target_group):
        self.elb = elb
        self.arn = target_group["TargetGroupArn"]
        self.where = "tags %s/* on %s" % (SAVED_TARGETS_TAG, target_group["TargetGroupName"])
        found = elb.call("describe_tags", ResourceArns=[self.arn])["TagDescriptions"]
        self.tags = dict((tag["Key"], tag.get("Value", "")) for tag in (found[0].get("Tags", []) if found else []))

    def load(self):
        return record_from_tags(self.tags)

    def check(self, targets):
        """Fail before any change when ``targets`` do not fit in the tags the target group has left."""
        wanted = record_tags(targets)
        others = len([key for key in self.tags if key not in record_keys(self.tags) and not key.startswith("aws:")])
        if others + len(wanted) > TAGS_PER_RESOURCE:
            raise RollbackError("%d targets need %d tags but the target group %s has %d of %d tags left: give "
                                "state_file" % (len(targets), len(wanted), self.arn, TAGS_PER_RESOURCE - others,
                                                TAGS_PER_RESOURCE))
        return wanted

    def save(self, targets):
        wanted = self.check(targets)
        stale = [key for key in record_keys(self.tags) if key not in wanted]
        try:
            self.elb.call("add_tags", ResourceArns=[self.arn],
                          Tags=[dict(Key=key, Value=value) for key, value in sorted(wanted.items())])
        except RollbackError as error:
            if error.details.get("aws_error_code") == "TooManyTags":
                raise RollbackError("no room to save the targets in tags of %s (%s): give state_file"
                                    % (self.arn, error.msg))
            raise
        if stale:
            self.elb.call("remove_tags", ResourceArns=[self.arn], TagKeys=stale)

    def clear(self):
        keys = record_keys(self.tags)
        if keys:
            self.elb.call("remove_tags", ResourceArns=[self.arn], TagKeys=keys)


class FileStore:
    """The record in a JSON file: ``{target_group_arn, saved_at, targets}``, written atomically."""

    def __init__(self, path, target_group):
        self.path = path
        self.arn = target_group["TargetGroupArn"]
        self.where = path

    def load(self):
        if not os.path.exists(self.path):
            return None
        try:
            with open(self.path) as handle:
                record = json.load(handle)
            targets = [describe_target(target) for target in record["targets"]]
            owner = record["target_group_arn"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise RollbackError("state_file %s is unreadable: %s" % (self.path, error))
        if owner != self.arn:
            raise RollbackError("state_file %s holds the targets of %s, not of %s" % (self.path, owner, self.arn))
        return targets

    def check(self, targets):
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
            raise RollbackError("state_file directory %s does not exist or is not writable" % directory)

    def save(self, targets):
        self.check(targets)
        record = dict(target_group_arn=self.arn, targets=targets, saved_at=utc_iso())
        atomic_write(self.path, json.dumps(record, indent=2, sort_keys=True), what="state_file")

    def clear(self):
        if os.path.exists(self.path):
            os.unlink(self.path)


# --- the module's work -------------------------------------------------------------------------------------------

class AlbTraffic:
    def __init__(self, module, elb=None, waiter=None):
        self.module = module
        self.params = module.params
        self.elb = elb or AwsClient(module.params, "elbv2")
        self.waiter = waiter or Waiter(module)

    def target_group(self, reference, option):
        if reference.startswith("arn:"):
            found = self.elb.not_found("describe_target_groups", TARGET_GROUP_NOT_FOUND, TargetGroupArns=[reference])
        else:
            found = self.elb.not_found("describe_target_groups", TARGET_GROUP_NOT_FOUND, Names=[reference])
        if not found or not found.get("TargetGroups"):
            raise RollbackError("%s: target group %s not found" % (option, reference))
        return found["TargetGroups"][0]

    def health(self, arn):
        """``[(target, state)]`` of the target group, as describe_target_health shows them."""
        found = self.elb.call("describe_target_health", TargetGroupArn=arn)
        return [(description["Target"], (description.get("TargetHealth") or {}).get("State"))
                for description in found.get("TargetHealthDescriptions", [])]

    def registered(self, arn):
        """Targets that receive or may receive traffic (anything but draining)."""
        return [describe_target(target) for target, state in self.health(arn) if state not in GONE_STATES]

    def store(self, target_group):
        if self.params["state_file"]:
            return FileStore(self.params["state_file"], target_group)
        return TagStore(self.elb, target_group)

    def run(self):
        if self.params["forward_to"]:
            return self.switch()
        group = self.target_group(self.params["target_group"], "target_group")
        store = self.store(group)
        if self.params["state"] == "drained":
            return self.drain(group, store)
        return self.restore(group, store)

    def base_result(self, group, store, current):
        return dict(target_group=dict(arn=group["TargetGroupArn"], name=group["TargetGroupName"]),
                    saved_in=store.where, targets_before=current)

    def drain(self, group, store):
        arn, name = group["TargetGroupArn"], group["TargetGroupName"]
        current = self.registered(arn)
        saved = store.load()
        record = merge_targets(saved or [], current) or None
        if record is None:
            self.module.warn("target group %s has no registered targets and none saved: nothing to drain" % name)
        before = dict(registered=encoded(current), saved=encoded(saved))
        after = dict(registered=[], saved=encoded(record))
        result = self.module.changed_result(before, after, targets_after=[], saved_targets=record or [],
                                            **self.base_result(group, store, current))
        if not result["changed"]:
            return result
        if record != saved:
            store.check(record)
        if self.module.check_mode:
            return result
        if record != saved:
            store.save(record)
        if current:
            self.elb.call("deregister_targets", TargetGroupArn=arn, Targets=current)
        leaving = set(target_key(target) for target in current)

        def probe():
            still = [target for target, state in self.health(arn) if target_key(describe_target(target)) in leaving]
            return not still, "%d target(s) still draining" % len(still)

        self.waiter.wait(probe, "targets of %s to be deregistered" % name)
        return result

    def restore(self, group, store):
        arn, name = group["TargetGroupArn"], group["TargetGroupName"]
        current = self.registered(arn)
        saved = store.load()
        if saved is None:
            if not current:
                raise RollbackError("target group %s has no saved targets (%s) and none registered: nothing to "
                                    "restore" % (name, store.where))
            result = self.base_result(group, store, current)
            result.update(changed=False, targets_after=current, saved_targets=[])
            return result
        present = set(target_key(target) for target in current)
        missing = [target for target in saved if target_key(target) not in present]
        final = merge_targets(current, saved)
        before = dict(registered=encoded(current), saved=encoded(saved))
        after = dict(registered=encoded(final), saved=None)
        result = self.module.changed_result(before, after, targets_after=final, saved_targets=[],
                                            **self.base_result(group, store, current))
        result["registered"] = missing
        if self.module.check_mode:
            return result
        if missing:
            self.elb.call("register_targets", TargetGroupArn=arn, Targets=missing)
        store.clear()
        self.waiter.wait(self.healthy_probe(group, set(target_key(target) for target in saved)),
                         "restored targets of %s to be healthy" % name)
        return result

    def healthy_probe(self, group, keys):
        """Done when the targets ``keys`` are healthy (or unused, when no load balancer uses the group)."""
        accepted = ("healthy",) if group.get("LoadBalancerArns") else ("healthy", "unused")

        def probe():
            states = dict((target_key(describe_target(target)), state) for target, state in self.health(
                group["TargetGroupArn"]))
            waiting = sorted("%s=%s" % (key[0], states.get(key)) for key in keys if states.get(key) not in accepted)
            return not waiting, "not yet healthy: %s" % ", ".join(waiting) if waiting else "all healthy"

        return probe

    def listener(self, arn):
        found = self.elb.not_found("describe_listeners", LISTENER_NOT_FOUND, ListenerArns=[arn])
        if not found or not found.get("Listeners"):
            raise RollbackError("listener %s not found" % arn)
        return found["Listeners"][0]

    def group_names(self, arns):
        if not arns:
            return {}
        found = self.elb.not_found("describe_target_groups", TARGET_GROUP_NOT_FOUND, TargetGroupArns=list(arns))
        return dict((group["TargetGroupArn"], group["TargetGroupName"]) for group in (found or {}).get(
            "TargetGroups", []))

    def live(self, actions):
        """What the listener's default action does now: forwarded target groups, or the other terminal action."""
        action = terminal_action(actions)
        if action is None:
            return []
        if action["Type"] != "forward":
            return [dict(type=action["Type"])]
        groups = forward_groups(action)
        names = self.group_names(arn for arn, weight in groups)
        return [dict(type="forward", arn=arn, name=names.get(arn), weight=weight) for arn, weight in groups]

    def switch(self):
        listener = self.listener(self.params["listener_arn"])
        group = self.target_group(self.params["forward_to"], "forward_to")
        arn, name = group["TargetGroupArn"], group["TargetGroupName"]
        found = self.elb.not_found("describe_load_balancers", LOAD_BALANCER_NOT_FOUND,
                                   LoadBalancerArns=[listener["LoadBalancerArn"]])
        balancer = (found or {}).get("LoadBalancers", [{}])[0]
        if balancer.get("VpcId") and group.get("VpcId") and balancer["VpcId"] != group["VpcId"]:
            raise RollbackError("forward_to: target group %s is in %s, the load balancer in %s"
                                % (name, group["VpcId"], balancer["VpcId"]))
        actions = listener.get("DefaultActions", [])
        live_before = self.live(actions)
        live_after = [dict(type="forward", arn=arn, name=name, weight=None)]
        before = dict(default_action=[(entry["type"], entry.get("name")) for entry in live_before])
        after = dict(default_action=[("forward", name)])
        result = self.module.changed_result(before, after, listener_arn=listener["ListenerArn"],
                                            target_group=dict(arn=arn, name=name),
                                            live_before=live_before, live_after=live_after,
                                            from_version=", ".join(str(entry.get("name") or entry.get("type"))
                                                                   for entry in live_before) or None,
                                            to_version=name)
        if not result["changed"]:
            return result
        if not self.registered(arn):
            raise RollbackError("forward_to: target group %s has no registered targets: switching would take the "
                                "listener down" % name)
        if self.module.check_mode:
            return result
        self.elb.call("modify_listener", ListenerArn=listener["ListenerArn"],
                      DefaultActions=switched_actions(actions, arn))
        self.waiter.wait(self.serving_probe(arn), "target group %s to have healthy targets" % name)
        return result

    def serving_probe(self, arn):
        """Done when no target is still in its initial health check and at least one is healthy."""

        def probe():
            states = [state for target, state in self.health(arn)]
            counts = ", ".join("%d %s" % (states.count(state), state) for state in sorted(set(states), key=str))
            return "healthy" in states and "initial" not in states, counts or "no targets"

        return probe


def alb_traffic(module):
    return AlbTraffic(module).run()
