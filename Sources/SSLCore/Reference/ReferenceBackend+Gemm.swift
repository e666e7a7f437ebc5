// Reference GEMM: c = alpha·op(a)·op(b) + beta·c with Double dot products.

extension ReferenceBackend {
    public func gemm(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool,
                     alpha: Float, beta: Float, into c: Tensor) throws {
        let g = try Shapes.gemm(a.shape, b.shape, c: c.shape, transposeA: transposeA, transposeB: transposeB)
        let av = try values(a, op: "gemm"), bv = try values(b, op: "gemm")
        guard let out = c.hostBuffer else {
            throw SSLError.wrongBackend(op: "gemm", expected: "the reference backend", found: c.location)
        }
        try HostMemory.require([g.m + g.n, g.k], bytesPerValue: 8, what: "gemm's Double copies of A and B (m \(g.m), n \(g.n), k \(g.k))")
        // Rows of op(a) and columns of op(b), both laid out contiguously along K.
        var rowsA = [Double](repeating: 0, count: g.m * g.k)
        var colsB = [Double](repeating: 0, count: g.n * g.k)
        for i in 0..<g.m {
            for p in 0..<g.k { rowsA[i * g.k + p] = Double(transposeA ? av[p * g.m + i] : av[i * g.k + p]) }
        }
        for j in 0..<g.n {
            for p in 0..<g.k { colsB[j * g.k + p] = Double(transposeB ? bv[j * g.k + p] : bv[p * g.n + j]) }
        }
        for i in 0..<g.m {
            for j in 0..<g.n {
                var dot = 0.0
                for p in 0..<g.k { dot += rowsA[i * g.k + p] * colsB[j * g.k + p] }
                let old = beta == 0 ? 0 : Double(beta) * Double(out.values[i * g.n + j])
                out.values[i * g.n + j] = Float(Double(alpha) * dot + old)
            }
        }
    }
}
