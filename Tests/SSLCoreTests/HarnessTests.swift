// The test harness's own checks: a comparison that cannot fail proves nothing.
import Testing
@testable import SSLCore

@Suite struct HarnessTests {
    @Test("assertClose fails on NaN or Inf on either side, and passes equal finite values")
    func nonFiniteIsAMismatch() {
        let cases: [([Float], [Double])] = [
            ([1], [.nan]), ([.nan], [1]), ([1], [.infinity]), ([.infinity], [.infinity]), ([.nan], [.nan]),
        ]
        for (actual, expected) in cases {
            withKnownIssue("\(actual) vs \(expected)") {
                assertClose(actual, expected, shape: [1], expectedShape: [1], rtol: 1, atol: 1, "case")
            }
        }
        assertClose([1, -2], [1, -2], shape: [2], expectedShape: [2], rtol: 0, atol: 0, "equal values")
    }
}
