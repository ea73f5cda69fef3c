"""Loaded by schemathesis before a run (SCHEMATHESIS_HOOKS, set by schemathesis.sh).

CPython 3.11 (before 3.11.8) can raise "SystemError: AST constructor recursion depth
mismatch" from ast.parse when it runs deep in the stack. Hypothesis parses source to
describe a filter's lambda for a repr, so the bug surfaced as a schemathesis "Runtime
Error" that says nothing about crisisd. The description only names a strategy: when
the parse fails this way, name the lambda generically and let the run go on.
"""

from hypothesis.internal import lambda_sources

_describe = lambda_sources._lambda_description


def _lambda_description(f, *args, **kwargs):
    try:
        return _describe(f, *args, **kwargs)
    except SystemError:
        return "lambda: <unknown>"


lambda_sources._lambda_description = _lambda_description
