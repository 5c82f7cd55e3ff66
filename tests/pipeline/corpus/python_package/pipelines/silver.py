import importlib
import pkgutil

import plans

from pipelines.utils import helpers

# every module of the plans package names one plan: one table per plan
for info in sorted(pkgutil.iter_modules(plans.__path__), key=lambda i: i.name):
    module = importlib.import_module(f"plans.{info.name}")
    helpers.define_plan_table(module.PLAN)
