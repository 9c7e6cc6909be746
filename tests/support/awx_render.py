"""Render awx/controller.yml as ansible-playbook would and check each call against its awx.awx module.

Run as a script (its own process: it installs Ansible's collection loader), with the extra vars files to load:
    python tests/support/awx_render.py awx/controller.yml awx/settings.example.yml awx/secrets.example.yml
Prints JSON: {"calls": [{"module", "task", "params"}], "errors": [...]}. Each task's loop is templated with the
playbook's vars files and the extra vars, then the task's arguments with each ``item`` (Ansible's Templar, so
lookups, filters and ``omit`` behave as in a run). Each call is validated with ansible-core's
ArgumentSpecValidator against the argument spec the installed awx.awx module builds in its ``main()`` (captured
when it constructs its AnsibleModule), and list-of-dict options the module leaves untyped (workflow_nodes) against
the suboptions of its DOCUMENTATION.
"""

import importlib
import json
import os
import sys

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar

init_plugin_loader([])
from ansible.module_utils import basic  # noqa: E402


class _Captured(Exception):
    def __init__(self, kwargs):
        super().__init__("captured")
        self.kwargs = kwargs


def module_spec(name):
    """The kwargs (argument_spec, mutually_exclusive, required_if, ...) awx.awx.<name> gives AnsibleModule."""
    module = importlib.import_module("ansible_collections.awx.awx.plugins.modules.%s" % name)
    original = basic.AnsibleModule.__init__

    def capture(self, *args, **kwargs):
        raise _Captured(kwargs)

    basic.AnsibleModule.__init__ = capture
    try:
        module.main()
    except _Captured as captured:
        return captured.kwargs, yaml.safe_load(module.DOCUMENTATION)
    finally:
        basic.AnsibleModule.__init__ = original
    raise RuntimeError("awx.awx.%s built no AnsibleModule" % name)


def spec_from_doc(options):
    """An argument spec from DOCUMENTATION options (type, elements, choices, required, aliases, suboptions)."""
    spec = {}
    for name, doc in options.items():
        entry = {key: doc[key] for key in ("type", "elements", "choices", "required", "aliases") if key in doc}
        if "suboptions" in doc:
            entry["options"] = spec_from_doc(doc["suboptions"])
        spec[name] = entry
    return spec


def validate(module, params):
    kwargs, doc = module_spec(module)
    constraints = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")
    validator = ArgumentSpecValidator(kwargs["argument_spec"], **{k: kwargs[k] for k in constraints if k in kwargs})
    errors = ["%s: %s" % (module, message) for message in validator.validate(params).error_messages]
    for name, option in kwargs["argument_spec"].items():
        documented = doc["options"].get(name, {})
        if option.get("elements") == "dict" and "options" not in option and "suboptions" in documented:
            nested = ArgumentSpecValidator(spec_from_doc(documented["suboptions"]))
            for index, element in enumerate(params.get(name) or []):
                errors += ["%s: %s[%d]: %s" % (module, name, index, message)
                           for message in nested.validate(element).error_messages]
    return errors


def plain(value):
    """Tagged Ansible values as plain JSON-able Python."""
    return json.loads(json.dumps(value, default=str))


def main(playbook, *extra_vars_files):
    loader = DataLoader()
    base = os.path.dirname(os.path.abspath(playbook))
    loader.set_basedir(base)
    play = loader.load_from_file(os.path.abspath(playbook), trusted_as_template=True)[0]
    variables = {}
    for path in play.get("vars_files", []):
        variables.update(loader.load_from_file(os.path.join(base, path), trusted_as_template=True))
    for path in extra_vars_files:
        variables.update(loader.load_from_file(os.path.abspath(path), trusted_as_template=True))
    variables["playbook_dir"] = base
    calls, errors = [], []
    for task in play["tasks"]:
        modules = [key for key in task if key.startswith("awx.awx.")]
        if not modules:
            continue
        module = modules[0].rsplit(".", 1)[1]
        for item in Templar(loader=loader, variables=variables).template(task["loop"]):
            params = plain(Templar(loader=loader, variables=dict(variables, item=item)).template(task[modules[0]]))
            calls.append({"module": module, "task": task["name"], "params": params})
            errors += ["%s (%s): %s" % (task["name"], params.get("name", params.get("role")), message)
                       for message in validate(module, params)]
    json.dump({"calls": calls, "errors": errors}, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:])
