"""Keel's own GX expectations, registered with GX when this module is imported (the suite reader imports it
before turning JSON into expectations; importing GX takes seconds, so nothing imports this at start-up)."""

from __future__ import annotations

import great_expectations.expectations as gxe


class ExpectColumnQuantileValuesToBeWithin(gxe.ExpectColumnQuantileValuesToBeBetween):
    """`expect_column_quantile_values_to_be_between`, with plain bools in its result: GX 1.24's result store
    (which every checkpoint run writes to) cannot serialise the numpy bools the original reports."""

    def _validate(self, metrics, runtime_configuration=None, execution_engine=None):
        out = super()._validate(metrics, runtime_configuration, execution_engine)
        details = out["result"]["details"]
        details["success_details"] = [bool(x) for x in details["success_details"]]
        return out | {"success": bool(out["success"])}
