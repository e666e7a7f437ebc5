// The memory bank (full softmax and NCE): finite differences, the sampler, OpenCL parity,
// lemniscate's values, errors, CLI.
import Foundation
import Testing
@testable import SSLCore
@testable import ssl

@Suite struct MemoryBankTests {
    struct Inputs {
        let n: Int, d: Int, b: Int
        let z: [Double], bank: [Double], indices: [Int]

        init(n: Int, d: Int, b: Int, seed: UInt64) {
            var rng = SeededRandom(seed: seed)
            self.n = n; self.d = d; self.b = b
            z = rng.doubles(n * d, scale: 2)
            bank = L2Normalize.forward(rng.doubles(b * d), rows: b, cols: d, eps: 1e-12)
            indices = (0..<n).map { ($0 * 7 + 3) % b }  // distinct while b ≥ n and gcd(7, b) = 1
        }
    }

    @Test("backward matches finite differences: full softmax and NCE at a fixed Z",
          arguments: [(nil, 0.07), (nil, 0.5), (5, 0.07), (5, 0.5)] as [(Int?, Double)])
    func gradient(_ s: (Int?, Double)) {
        let x = Inputs(n: 3, d: 4, b: 10, seed: 5)
        let scored = s.0.map { MemoryBankReference.sampleNegatives(indices: x.indices, negatives: $0, bankSize: x.b, seed: 9) }
        let z0: Double? = s.0 == nil ? nil : 12.5
        let f: ([Double]) -> (loss: Double, normalizer: Double?, bankNext: [Double], cache: MemoryBankReference.Cache) = {
            MemoryBankReference.forward(z: $0, indices: x.indices, bank: x.bank, n: x.n, d: x.d, bankSize: x.b,
                                        temperature: s.1, scored: scored, normalizer: z0, momentum: 0.5)
        }
        checkGradient("memory bank dZ \(s)", at: x.z, analytic: MemoryBankReference.backward(f(x.z).cache)) { f($0).loss }
    }

    @Test("the negative sampler is deterministic, uniform over the bank, and keeps each sample's own row first")
    func sampler() {
        let rows = MemoryBankReference.sampleNegatives(indices: [4, 1], negatives: 3000, bankSize: 10, seed: 3)
        #expect(rows.count == 2 * 3001 && rows[0] == 4 && rows[3001] == 1)
        #expect(rows == MemoryBankReference.sampleNegatives(indices: [4, 1], negatives: 3000, bankSize: 10, seed: 3))
        #expect(rows != MemoryBankReference.sampleNegatives(indices: [4, 1], negatives: 3000, bankSize: 10, seed: 4))
        var counts = [Int](repeating: 0, count: 10)
        for (i, row) in rows.enumerated() where i % 3001 != 0 { counts[row] += 1 }
        // 6000 draws over 10 rows: 600 each, standard deviation ≈ 23; 5σ bounds.
        #expect(counts.allSatisfy { abs($0 - 600) < 120 }, "\(counts)")
    }

    /// Float32 against Double. Logits carry ~√D·2⁻²⁴ relative rounding times 1/T ≈ 14; NCE's P
    /// is exp(logit − log Z), so its relative error is that absolute logit error, ~1e-5 at D = 65.
    /// The loss and Z agree to 1e-4 relative, dZ to 1e-4 of its largest entry, and the bank (unit
    /// rows from one normalisation) to 1e-5.
    @Test("OpenCL matches the reference", .enabled(if: TestBackends.hasOpenCL),
          arguments: Oclgrind.cases([(2, 3, 40), (7, 13, 40), (33, 65, 129)]) { $0.2 * $0.1 }, [false, true])
    func parity(_ s: (Int, Int, Int), serialRows: Bool) throws {
        let cl = openCL(serialRows: serialRows), ref = TestBackends.reference
        let x = Inputs(n: s.0, d: s.1, b: s.2, seed: UInt64(s.0 * 100 + s.1))
        for negatives in [nil, 16, 300] as [Int?] {
            for fixedZ in negatives == nil ? [false] : [false, true] {
                let r = try [ref, cl].map { (b: any Backend) in
                    try b.memoryBank(z: try b.upload(x.z.map(Float.init), shape: [s.0, s.1]), indices: x.indices,
                                     bank: try b.upload(x.bank.map(Float.init), shape: [s.2, s.1]), temperature: 0.07,
                                     negatives: negatives, seed: 21, normalizer: fixedZ ? try b.upload([321], shape: []) : nil,
                                     momentum: 0.5)
                }
                let what = "\(s) negatives \(negatives.map(String.init) ?? "none")\(fixedZ ? " fixed Z" : "")"
                try assertClose(r[1].loss, on: cl, r[0].loss, on: ref, rtol: 1e-4, atol: 1e-6, "loss \(what)")
                let scale = Double(try ref.download(r[0].dZ).map(abs).max() ?? 1)
                try assertClose(r[1].dZ, on: cl, r[0].dZ, on: ref, rtol: 1e-4, atol: 1e-4 * scale, "dZ \(what)")
                try assertClose(r[1].bankNext, on: cl, r[0].bankNext, on: ref, rtol: 1e-5, atol: 1e-6, "bankNext \(what)")
                #expect((r[0].normalizer == nil) == (negatives == nil) && (r[1].normalizer == nil) == (negatives == nil))
                if let z0 = r[0].normalizer, let z1 = r[1].normalizer {
                    try assertClose(z1, on: cl, z0, on: ref, rtol: 1e-4, atol: 0, "normalizer \(what)")
                    if fixedZ { #expect(try ref.download(z0) == [321]) }
                }
            }
        }
    }

    static let cases = ["2x3", "8x17", "2x3nce", "8x17nce", "8x17nce2"]

    @Test("matches lemniscate's LinearAverage / NCEAverage + NCECriterion on every backend", arguments: cases)
    func officialValues(_ tag: String) throws {
        let name: (String) -> String = { "memorybank_\(tag)_\($0)" }
        let nce = tag.contains("nce")
        let negatives = nce ? try ContrastiveFixtures.integers(name("negatives"))[0] : nil
        let seed = nce ? UInt64(try ContrastiveFixtures.integers(name("seed"))[0]) : 0
        try forEachBackend { b in
            // The second NCE step reuses the first step's Z, as lemniscate keeps params[2].
            let z0 = tag == "8x17nce2" ? try b.upload([Float(try ContrastiveFixtures.scalar(name("normalizer")))], shape: []) : nil
            let r = try b.memoryBank(z: try ContrastiveFixtures.tensor(name("z"), on: b),
                                     indices: try ContrastiveFixtures.integers(name("indices")),
                                     bank: try ContrastiveFixtures.tensor(name("bank"), on: b),
                                     temperature: Float(try ContrastiveFixtures.scalar(name("temperature"))),
                                     negatives: negatives, seed: seed, normalizer: z0, momentum: 0.5)
            try ContrastiveFixtures.expectClose(r.loss, on: b, name("loss"))
            try ContrastiveFixtures.expectClose(r.dZ, on: b, name("grad_z"))
            try ContrastiveFixtures.expectClose(r.bankNext, on: b, name("bank_next"))
            if nce { try ContrastiveFixtures.expectClose(r.normalizer!, on: b, name("normalizer")) }
        }
    }

    @Test("bad indices, shapes and options are the same error on every backend")
    func errors() {
        func call(_ b: any Backend, indices: [Int] = [0, 1], z: [Int] = [2, 3], bank: [Int] = [5, 3], t: Float = 0.07,
                  negatives: Int? = nil, normalizer: [Int]? = nil, momentum: Float = 0.5) throws {
            _ = try b.memoryBank(z: try b.zeros(z), indices: indices, bank: try b.zeros(bank), temperature: t,
                                 negatives: negatives, seed: 0, normalizer: try normalizer.map { try b.zeros($0) },
                                 momentum: momentum)
        }
        expectSameError(["indices[1] = 7", "5 rows"]) { try call($0, indices: [0, 7]) }
        expectSameError(["indices[0] = -1"]) { try call($0, indices: [-1, 2]) }
        expectSameError(["indices[1] = 3", "distinct"]) { try call($0, indices: [3, 3]) }
        expectSameError(["2 rows", "3 indices"]) { try call($0, indices: [0, 1, 2]) }
        expectSameError(["z", "(2, 3)", "bank", "(5, 4)"]) { try call($0, bank: [5, 4]) }
        expectSameError(["bank", "(0, 3)", "empty"]) { try call($0, bank: [0, 3]) }
        expectSameError(["temperature", "0"]) { try call($0, t: 0) }
        expectSameError(["negatives", "0"]) { try call($0, negatives: 0) }
        expectSameError(["normalizer", "NCE"]) { try call($0, normalizer: []) }
        expectSameError(["normalizer", "scalar", "(1,)"]) { try call($0, negatives: 4, normalizer: [1]) }
        expectSameError(["momentum", "-0.5"]) { try call($0, momentum: -0.5) }
    }

    @Test("ssl loss memorybank writes lemniscate's values on every device, full softmax and NCE")
    func cli() throws {
        let path: (String, String) -> String = { Fixtures.path("losses/memorybank_\($0)_\($1)") }
        try ContrastiveFixtures.runCLI(["memorybank", "--z", path("8x17", "z"), "--indices", path("8x17", "indices"),
                                        "--bank", path("8x17", "bank")]) { out, _ in
            for name in ["loss", "grad_z", "bank_next"] {
                try ContrastiveFixtures.expectFile(out + "/\(name).npy", "memorybank_8x17_\(name)")
            }
            #expect(!FileManager.default.fileExists(atPath: out + "/normalizer.npy"))
        }
        let z0 = String(Float(try ContrastiveFixtures.scalar("memorybank_8x17nce2_normalizer")))
        try ContrastiveFixtures.runCLI(["memorybank", "--z", path("8x17nce2", "z"), "--indices", path("8x17nce2", "indices"),
                                        "--bank", path("8x17nce2", "bank"), "--negatives", "16", "--seed", "8",
                                        "--normalizer", z0]) { out, _ in
            for name in ["loss", "grad_z", "bank_next", "normalizer"] {
                try ContrastiveFixtures.expectFile(out + "/\(name).npy", "memorybank_8x17nce2_\(name)")
            }
        }
        #expect(throws: (any Error).self) {
            _ = try SSLCommand.parseAsRoot(["loss", "memorybank", "--z", "z.npy", "--indices", "i.npy", "--bank", "b.npy",
                                            "--normalizer", "3", "--out", "o"])
        }
    }
}
