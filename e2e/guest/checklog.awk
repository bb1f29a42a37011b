# Copyright 2026 The cinder-ocfs2 Authors
#
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.
#
# Checks TGLOG records (64 lines of 64 bytes each; a run of NULs, such as an
# unwritten block, is one newline: `tr -s '\000' '\n'`, so awk does not walk a
# megabyte of empty lines) numbered from `first` against what the writer
# (gen_records in init) writes. A record cut short by the end of the input is bad.
# Prints "LAST BAD FULL": the last intact record, the first record that starts
# like one but is wrong (0: none), 1 if every record of the input was intact.
function expect(n, l,    b, s, k) {
    if (l == 0)
        return sprintf("%-63s", sprintf("TGLOG n=%010d g=%06d o=%-20s", n, 0, origin))
    if (l < 63) {
        b = n * 248 + (l - 1) * 4
        return sprintf("%015.0f %015.0f %015.0f %015.0f", b, b + 1, b + 2, b + 3)
    }
    s = (n * 7) % 1000000000000000
    for (k = 0; k < 62; k++)
        s = (s + 4 * (n * 248 + k * 4) + 6) % 1000000000000000
    return sprintf("%-63s", sprintf("TGSUM %015.0f", s))
}
BEGIN { n = first; l = 0; last = first - 1; bad = 0; ended = 0 }
ended { next }
{
    if (l == 0 && substr($0, 1, 6) != "TGLOG ") { ended = 1; next }
    if ($0 != expect(n, l)) { bad = n; ended = 1; next }
    if (++l == 64) { last = n; n++; l = 0 }
}
END {
    if (!ended && l != 0)
        bad = n
    print last, bad, (!ended && last - first + 1 == 256) ? 1 : 0
}
