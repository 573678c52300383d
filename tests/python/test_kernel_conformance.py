"""jupyter_kernel_test against the TypeScript (tsparallel) kernel.

Run by tests/src/kernel.conformance.test.ts with JUPYTER_PATH pointing at a kernelspec it installed.
Every applicable sample is given, so no test of the suite is skipped for lack of one.
"""
import os
import unittest

import jupyter_kernel_test


class TsparallelKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = os.environ.get("TSPARALLEL_KERNEL_NAME", "tsparallel")
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("some error")'

    completion_samples = [
        {"text": "console.lo", "matches": {"log"}},
        {"text": "Math.PI", "matches": {"PI"}},
        {"text": "const someLongName = 1; someLongN", "matches": {"someLongName"}},
    ]

    complete_code_samples = ["1 + 1", "const x = 5", "function f() { return 1 }", "%px 1 + 1", ""]
    incomplete_code_samples = ["function f() {", "const x = [1, 2,", "let y =", "`unfinished ${1}", "if (true)"]
    invalid_code_samples = ["x = )", "}", "let s = 'unterminated"]

    code_page_something = "console.log?"

    code_generate_error = 'throw new RangeError("boom")'

    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "'a' + 'b'", "result": "'ab'"},
        {"code": "[1, 2, 3].map((x) => x * 2)", "result": "[ 2, 4, 6 ]"},
    ]

    code_display_data = [
        {"code": 'display.html("<b>bold</b>"); undefined', "mime": "text/html"},
        {"code": 'display.markdown("*it*"); undefined', "mime": "text/markdown"},
        {"code": 'display.png(new Uint8Array([137, 80, 78, 71])); undefined', "mime": "image/png"},
    ]

    code_history_pattern = "6 * 7"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "Math.max"

    code_clear_output = "display.clear()"


if __name__ == "__main__":
    unittest.main()
