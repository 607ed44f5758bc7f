"""Running an addon's tests as Odoo 18 does (odoo/tests/loader.py, result.py,
tag_selector.py), with Odoo's log lines:

    INFO db odoo.addons.mod.tests.test_x: Starting TestX.test_y ...
    INFO db odoo.addons.mod.tests.test_x: ======================================================================
    ERROR db odoo.addons.mod.tests.test_x: FAIL: TestX.test_y
    Traceback (most recent call last): ...
    INFO db odoo.tests.stats: mod: 3 tests 0.01s 0 queries
    ERROR db odoo.tests.result: 1 failed, 0 error(s) of 3 tests when loading database 'db'

Test modules are the `test_*` modules that the addon's tests/__init__.py
imports; importing them is not guarded (an import error stops the loading,
as in Odoo 17+).
"""

import collections
import importlib
import importlib.util
import inspect
import logging
import re
import threading
import time
import unittest

from . import pg
from .config import config

_logger = logging.getLogger("odoo.tests.result")
stats_logger = logging.getLogger("odoo.tests.stats")
selector_logger = logging.getLogger("odoo.tests.tag_selector")

_TEST_ID = re.compile(r"^odoo\.addons\.(?P<module>[^.]+)\.tests\.(?P<class>.+)\.(?P<method>[^.]+)$")
_FILTER_SPEC = re.compile(
    r"""^
    ([+-]?)                 # include or exclude
    (\*|\w*)                # tag
    (?:/([\w/]*(?:\.py)?))? # module, or the path of a test file
    (?::(\w*))?             # class
    (?:\.(\w*))?            # method
    (?:\[(.*)\])?           # parameters
    $""",
    re.VERBOSE,
)


class TagsSelector:
    """--test-tags: `[-][tag][/module][:class][.method]`, comma separated. An
    include spec without a tag means 'standard', an exclude spec without a
    tag means any tag; excludes win; with only excludes, 'standard' is
    included."""

    def __init__(self, spec):
        self.include = set()
        self.exclude = set()
        parts = re.split(r",(?![^\[]*\])", spec or "")
        for part in (p.strip() for p in parts):
            if not part:
                continue
            match = _FILTER_SPEC.match(part)
            if not match:
                selector_logger.error("Invalid tag %s", part)
                continue
            sign, tag, module, klass, method, _params = match.groups()
            include = sign != "-"
            if not tag and include:
                tag = "standard"
            elif not tag or tag == "*":
                tag = None
            module_path = None
            if module and module.endswith(".py"):
                module_path = module[:-3].replace("/", ".")
                module = None
            (self.include if include else self.exclude).add((tag, module, klass, method, module_path))
        if self.exclude and not self.include:
            self.include.add(("standard", None, None, None, None))

    def check(self, test):
        if not hasattr(test, "test_tags"):
            return False
        tags = set(test.test_tags or ()) | {test.test_module}
        method_name = test._testMethodName

        def matches(spec):
            tag, module, klass, method, module_path = spec
            if tag and tag not in tags:
                return False
            if module_path and not test.__module__.endswith(module_path):
                return False
            if not module_path and module and module != test.test_module:
                return False
            if klass and klass != test.test_class:
                return False
            if method and method_name and method != method_name:
                return False
            return True

        if any(matches(spec) for spec in self.exclude):
            return False
        return any(matches(spec) for spec in self.include)


def get_test_modules(module):
    spec = importlib.util.find_spec(f"odoo.addons.{module}")
    if spec is None:
        return []
    tests_spec = importlib.util.find_spec(".tests", spec.name)
    if tests_spec is None:
        return []
    tests_package = importlib.import_module(tests_spec.name)
    return [obj for name, obj in inspect.getmembers(tests_package, inspect.ismodule) if name.startswith("test_")]


def unwrap_suite(test):
    if isinstance(test, unittest.TestCase):
        yield test
        return
    for sub in test:
        yield from unwrap_suite(sub)


def make_suite(module_names, position="at_install"):
    config_tags = TagsSelector(config["test_tags"])
    position_tag = TagsSelector(position)
    tests = [
        test
        for module_name in module_names
        for module in get_test_modules(module_name)
        for test in unwrap_suite(unittest.TestLoader().loadTestsFromModule(module))
        if position_tag.check(test) and config_tags.check(test)
    ]
    return unittest.TestSuite(sorted(tests, key=lambda t: getattr(t, "test_sequence", 0)))


# While tests run, requests from HttpCase tests must reach the registry that
# is being loaded (Odoo swaps its registry lock for a dummy in test mode).
tests_running = False


def run_suite(suite):
    global tests_running
    thread = threading.current_thread()
    thread.testing = tests_running = True
    result = OdooTestResult()
    try:
        suite(result)
    finally:
        thread.testing = tests_running = False
    return result


class OdooTestResult(unittest.TestResult):
    """Counts instead of lists, and logs everything as it happens."""

    def __init__(self):
        super().__init__()
        self.failures_count = 0
        self.errors_count = 0
        self.skipped_count = 0
        self.stats = collections.defaultdict(lambda: [0.0, 0])
        self._started_at = 0.0
        self._queries_at = 0

    def __str__(self):
        return f"{self.failures_count} failed, {self.errors_count} error(s) of {self.testsRun} tests"

    def wasSuccessful(self):
        return self.failures_count == self.errors_count == 0

    def update(self, other):
        self.failures_count += other.failures_count
        self.errors_count += other.errors_count
        self.testsRun += other.testsRun
        self.skipped_count += other.skipped_count
        for test_id, (seconds, queries) in other.stats.items():
            self.stats[test_id][0] += seconds
            self.stats[test_id][1] += queries

    @staticmethod
    def description(test):
        if isinstance(test, unittest.case._SubTest):
            return f"Subtest {type(test.test_case).__qualname__}.{test.test_case._testMethodName} {test._subDescription()}"
        if isinstance(test, unittest.TestCase):
            return f"{type(test).__qualname__}.{test._testMethodName}"
        return str(test)

    @staticmethod
    def log(level, message, *args, test=None):
        while isinstance(test, unittest.case._SubTest):
            test = test.test_case
        logging.getLogger(type(test).__module__ if test is not None else __name__).log(level, message, *args)

    def startTest(self, test):
        super().startTest(test)
        self.log(logging.INFO, "Starting %s ...", self.description(test), test=test)
        self._started_at = time.time()
        self._queries_at = pg.sql_counter

    def stopTest(self, test):
        super().stopTest(test)
        stat = self.stats[test.id()]
        stat[0] += time.time() - self._started_at
        stat[1] += pg.sql_counter - self._queries_at

    def log_error(self, flavour, test, err):
        text = self._exc_info_to_string(err, test)
        self.log(logging.INFO, "=" * 70, test=test)
        self.log(logging.ERROR, "%s: %s\n%s", flavour, self.description(test), text, test=test)

    def addError(self, test, err):
        self.errors_count += 1
        self.log_error("ERROR", test, err)

    def addFailure(self, test, err):
        self.failures_count += 1
        self.log_error("FAIL", test, err)

    def addSubTest(self, test, subtest, err):
        if err is not None:
            if issubclass(err[0], test.failureException):
                self.addFailure(subtest, err)
            else:
                self.addError(subtest, err)

    def addSkip(self, test, reason):
        self.skipped_count += 1
        self.log(logging.INFO, "skipped %s : %s", self.description(test), reason, test=test)

    def addUnexpectedSuccess(self, test):
        self.errors_count += 1
        self.log(logging.ERROR, "unexpected success for %s", self.description(test), test=test)

    def log_stats(self):
        per_module = collections.defaultdict(lambda: [0, 0.0, 0])
        for test_id, (seconds, queries) in self.stats.items():
            match = _TEST_ID.match(test_id)
            if not match:
                continue
            entry = per_module[match["module"]]
            entry[0] += 1
            entry[1] += seconds
            entry[2] += queries
        for module, (count, seconds, queries) in sorted(per_module.items()):
            stats_logger.info("%s: %d tests %.2fs %d queries", module, count, seconds, queries)
