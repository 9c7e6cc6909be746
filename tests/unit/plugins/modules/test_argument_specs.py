"""Each module's argument spec: what main() really gives AnsibleModule matches what ansible-doc shows, secrets are
no_log, and every constraint (required, choices, required_one_of, mutually_exclusive, required_together,
required_if, required_by) refuses before the module does anything. Checked on every ansible-core of the matrix."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from module_table import MODULES, SAMPLE, patch, resolve
from support.modules import documented_options, load_module, module_kwargs, run_main

SECRET = re.compile(r"(^|_)(password|secret|secret_key|token|session_token|api_key)$")
DOC_KEYS = ("type", "elements", "choices", "required", "default", "aliases")


def kwargs_of(name):
    return module_kwargs(load_module(name).main)


def compare(spec, docs, where):
    """Differences between an argument spec and its documentation, recursing into suboptions."""
    problems = []
    for option in sorted(set(spec) | set(docs)):
        if option not in docs:
            problems.append("%s%s is accepted but not documented" % (where, option))
            continue
        if option not in spec:
            problems.append("%s%s is documented but not accepted" % (where, option))
            continue
        code, doc = spec[option], docs[option]
        for key in DOC_KEYS:
            have = code.get(key, "str" if key == "type" else False if key == "required" else None)
            want = doc.get(key, "str" if key == "type" else False if key == "required" else None)
            if key in ("choices", "aliases") and have is not None and want is not None:
                have, want = list(have), list(want)
            if key == "default" and code.get("type") == "float" and want is not None:
                want = float(want)
            if have != want and not (key == "default" and have in ({}, []) and want is None):
                problems.append("%s%s: %s is %r in the code, %r in the docs" % (where, option, key, have, want))
        if "options" in code or "suboptions" in doc:
            problems += compare(code.get("options") or {}, doc.get("suboptions") or {}, where + option + ".")
    return problems


@pytest.mark.parametrize("name", sorted(MODULES))
def test_the_spec_main_builds_is_the_one_ansible_doc_shows(name):
    assert compare(kwargs_of(name)["argument_spec"], documented_options(name), "") == []


def secret_options(spec, where=""):
    for option, entry in spec.items():
        if SECRET.search(option):
            yield where + option, entry
        for alias in entry.get("aliases") or []:
            if SECRET.search(alias):
                yield where + alias, entry
        yield from secret_options(entry.get("options") or {}, where + option + ".")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_secret_option_is_no_log(name):
    leaking = [option for option, entry in secret_options(kwargs_of(name)["argument_spec"])
               if not entry.get("no_log")]
    assert leaking == []


def refusals(name):
    """(case id, arguments, message the spec must give) for every constraint of the module."""
    kwargs = kwargs_of(name)
    spec, minimal = kwargs["argument_spec"], MODULES[name]["args"]

    def sample(option):
        entry = spec[option]
        return entry["choices"][0] if entry.get("choices") else SAMPLE[entry.get("type", "str")]

    cases = [("unknown option", dict(minimal, no_such_option=1), "no_such_option")]
    for option, entry in sorted(spec.items()):
        if entry.get("required"):
            cases.append(("required " + option, {k: v for k, v in minimal.items() if k != option},
                          "missing required arguments: " + option))
        if entry.get("choices") and entry.get("type", "str") == "str":
            cases.append(("choices " + option, dict(minimal, **{option: "no-such-choice"}),
                          "value of %s must be one of" % option))
    for group in kwargs.get("required_one_of", []):
        cases.append(("one of " + "/".join(group), {k: v for k, v in minimal.items() if k not in group},
                      "one of the following is required: " + ", ".join(group)))
    for group in kwargs.get("mutually_exclusive", []):
        both = dict(minimal, **{option: minimal.get(option, sample(option)) for option in group})
        cases.append(("exclusive " + "/".join(group), both, ("mutually exclusive: ", "|".join(group))))
    for group in kwargs.get("required_together", []):
        cases.append(("together " + "/".join(group), dict(minimal, **{group[0]: sample(group[0])}),
                      "required together: " + ", ".join(group)))
    for option, value, needed in kwargs.get("required_if", []):
        args = {k: v for k, v in dict(minimal, **{option: value}).items() if k not in needed}
        cases.append(("if %s=%s" % (option, value), args, "%s is %s but all of the following are missing: %s"
                      % (option, value, ", ".join(needed))))
    for option, needed in kwargs.get("required_by", {}).items():
        needed = [needed] if isinstance(needed, str) else needed
        args = {k: v for k, v in dict(minimal, **{option: sample(option)}).items() if k not in needed}
        cases.append(("by " + option, args, "missing parameter(s) required by '%s': %s" % (option, ", ".join(needed))))
    return cases


def validator(name):
    kwargs = {k: v for k, v in kwargs_of(name).items() if k != "supports_check_mode"}
    return ArgumentSpecValidator(**kwargs)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_the_smallest_valid_arguments_pass_the_spec(name):
    assert validator(name).validate(dict(MODULES[name]["args"])).error_messages == []


CASES = [(name, case, args, message) for name in sorted(MODULES) for case, args, message in refusals(name)]


@pytest.mark.parametrize("name,case,args,message", CASES, ids=["%s: %s" % (c[0], c[1]) for c in CASES])
def test_each_constraint_refuses(name, case, args, message):
    errors = validator(name).validate(dict(args)).error_messages
    parts = message if isinstance(message, tuple) else (message,)
    assert any(all(part in error for part in parts) for error in errors), errors


@pytest.mark.parametrize("name,case,args,message", CASES, ids=["%s: %s" % (c[0], c[1]) for c in CASES])
def test_main_refuses_before_doing_anything(monkeypatch, name, case, args, message):
    module = load_module(name)
    owner, attribute = resolve(module, MODULES[name]["action"])
    patch(monkeypatch, owner, attribute, lambda *a, **k: pytest.fail("the action ran on refused input"))
    failed, result = run_main(module.main, args)
    assert failed and result["msg"], result
    assert "changed" not in result or result["changed"] is False
