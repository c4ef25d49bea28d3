"""Functions of the stoichiometry given as text, e.g. a BPX file's ``"OCP [V]"`` entry
``"-0.809 * x + 4.4875 - 0.0428 * tanh(18.5138 * (x - 0.5542))"``, for numpy and UFL.

The text is parsed with Python's :mod:`ast` and only a whitelist is accepted: the variable
``x``, numbers, ``+ - * / **``, unary minus/plus and the functions ``exp, log, sqrt, tanh,
sinh, cosh, abs``.  Anything else (names, attributes, calls of other functions, subscripts)
is an :class:`fem.errors.InputError` naming the offending piece; nothing is ``eval``-ed.  The
functions dispatch to numpy or UFL (:mod:`fem.constitutive.mathops`), so the result works in
a weak form (Newton derivatives included) as well as on arrays.
"""

from __future__ import annotations

import ast
import math
import operator

import numpy as np
import ufl

from fem.constitutive import mathops
from fem.errors import InputError


def _abs(x):
    return abs(x) if mathops.is_ufl(x) else np.abs(x)


FUNCTIONS = {"exp": mathops.exp, "log": mathops.ln, "ln": mathops.ln, "sqrt": mathops.sqrt,
             "tanh": mathops.tanh, "sinh": mathops.sinh, "cosh": mathops.cosh, "abs": _abs}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


class Expression:
    """A function of ``x`` given as text (module docstring); ``Expression(text, name)(x)``."""

    def __init__(self, text: str, name: str = "expression", variable: str = "x"):
        self.text, self.name, self.variable = str(text), name, variable
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as e:
            raise InputError(f"{name}: {self.text!r} is not an expression of {variable}: {e.msg}") from None
        self._check(tree.body)
        self._tree = tree.body
        y = self(np.linspace(0.0, 1.0, 5))
        if np.shape(y) not in ((), (5,)):
            raise InputError(f"{name}: {self.text!r} does not give one value per {variable}")

    def _check(self, node) -> None:
        bad = None
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                bad = f"operator {type(node.op).__name__}"
            else:
                self._check(node.left)
                self._check(node.right)
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                bad = f"operator {type(node.op).__name__}"
            else:
                self._check(node.operand)
        elif isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS) or node.keywords \
                    or len(node.args) != 1:
                bad = f"call {ast.unparse(node)!r} (allowed: one-argument {', '.join(sorted(FUNCTIONS))})"
            else:
                self._check(node.args[0])
        elif isinstance(node, ast.Name):
            if node.id != self.variable:
                bad = f"name {node.id!r} (the variable is {self.variable!r})"
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                bad = f"constant {node.value!r}"
        else:
            bad = f"{type(node).__name__} {ast.unparse(node)!r}"
        if bad:
            raise InputError(f"{self.name}: {self.text!r}: {bad} is not allowed in an expression of {self.variable}")

    def _eval(self, node, x):
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](self._eval(node.left, x), self._eval(node.right, x))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self._eval(node.operand, x))
        if isinstance(node, ast.Call):
            return FUNCTIONS[node.func.id](self._eval(node.args[0], x))
        if isinstance(node, ast.Name):
            return x
        return float(node.value)

    def __call__(self, x):
        if not mathops.is_ufl(x):
            x = np.asarray(x, dtype=float)
        with np.errstate(all="ignore"):
            y = self._eval(self._tree, x)
        if not mathops.is_ufl(y) and not isinstance(y, ufl.core.expr.Expr):
            y = np.asarray(y, dtype=float) + np.zeros_like(x, dtype=float)
            if y.ndim == 0:
                y = float(y)
        return y

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def constant(value: float):
    """x -> value (numpy: broadcast; UFL: the number)."""
    v = float(value)
    if not math.isfinite(v):
        raise InputError(f"constant {value!r} is not a finite number")
    return lambda x: v if mathops.is_ufl(x) else v + 0.0 * np.asarray(x, dtype=float)
