// Sinkhorn-Knopp codes (Kernels/sinkhorn.cl): per iteration one column pass updating α (K) and
// one row pass updating β (B); then the codes in one element-wise pass.
import Foundation

extension OpenCLBackend {
    public func sinkhorn(_ scores: Tensor, epsilon: Float, iterations: Int) throws -> Tensor {
        let (b, k) = try Shapes.sinkhorn(scores.shape, epsilon: epsilon, iterations: iterations)
        let op = "sinkhorn"
        let alpha = try empty([k]), beta = try zeros([b]), codes = try empty([b, k])
        let invEps = Float(1 / Double(epsilon))
        let logK = Float(log(Double(k))), logB = Float(log(Double(b)))
        let s = try arg(scores, op), bCount = try int32(b, op), kCount = try int32(k, op)
        for _ in 0..<iterations {
            try launchElements("sinkhorn_columns", in: .sinkhorn, count: k, arguments: [
                s, try arg(beta, op), try arg(alpha, op), bCount, kCount, .float(invEps), .float(logK),
            ])
            try launchRows("sinkhorn_rows", in: .sinkhorn, rows: b, length: k, arguments: [
                s, try arg(alpha, op), try arg(beta, op), kCount, .float(invEps), .float(logB),
            ])
        }
        try launchElements("sinkhorn_codes", in: .sinkhorn, count: b * k, arguments: [
            s, try arg(alpha, op), try arg(beta, op), try arg(codes, op), bCount, kCount, .float(invEps), .float(logB),
        ])
        return codes
    }
}
