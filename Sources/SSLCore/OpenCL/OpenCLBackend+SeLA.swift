// SeLA on the device: the log-domain Sinkhorn steps of Kernels/sinkhorn.cl on λ·log_softmax,
// the stopping statistic and the labels' arg-max of Kernels/clustering.cl. The host reads one
// float every 10 steps: the official stopping rule is a host decision.
import Foundation

extension OpenCLBackend {
    public func selaPseudoLabels(logits: Tensor, lambda: Float, maxIterations: Int) throws -> SeLALabels {
        let op = "selaPseudoLabels"
        let (n, k) = try SeLAReference.validate(logits: logits.shape, lambda: lambda, maxIterations: maxIterations)
        let logP = try logSoftmax(logits)
        let nCount = try int32(n, op), kCount = try int32(k, op)
        let logK = Float(log(Double(k))), logN = Float(log(Double(n)))
        let alpha = try empty([k]), beta = try empty([n]), change = try empty([1])
        try fill(beta, with: -logN)  // c = 1/N
        var iterations = 0, error = Double.infinity
        while iterations < maxIterations {
            let old = iterations % SeLAReference.checkEvery == 0 ? try copy(beta) : nil
            // r = (1/K)/(P c) and c = (1/N)/(rᵀ P) are the dual updates α, β of sinkhorn.cl with ε = 1/λ.
            try launchElements("sinkhorn_columns", in: .sinkhorn, count: k, arguments: [
                try arg(logP, op), try arg(beta, op), try arg(alpha, op), nCount, kCount, .float(lambda), .float(logK),
            ])
            try launchRows("sinkhorn_rows", in: .sinkhorn, rows: n, length: k, arguments: [
                try arg(logP, op), try arg(alpha, op), try arg(beta, op), kCount, .float(lambda), .float(logN),
            ])
            iterations += 1
            if let old {
                try launchRows("sela_change", in: .clustering, rows: 1, length: n, arguments: [
                    try arg(old, op), try arg(beta, op), try arg(change, op), nCount,
                ])
                error = Double(try download(change)[0])
                if error <= SeLAReference.tolerance { break }
            }
        }
        // plan = exp(λ·log_softmax + α + β), i.e. diag(r) P^λ diag(c) transposed; labels its row arg-max.
        let plan = try empty([n, k])
        try launchElements("sinkhorn_codes", in: .sinkhorn, count: n * k, arguments: [
            try arg(logP, op), try arg(alpha, op), try arg(beta, op), try arg(plan, op), nCount, kCount,
            .float(lambda), .float(0),
        ])
        let labels = try indexBuffer(count: n, op: op)
        try launchArgmax("rows_argmax", groups: n, length: k, arguments: [try arg(plan, op), .buffer(labels), kCount])
        return SeLALabels(labels: try downloadIndices(labels, count: n), plan: plan, iterations: iterations, error: error)
    }

    public func selaLoss(logits: Tensor, labels: [Int]) throws -> CrossEntropyResult {
        try pseudoLabelCrossEntropy(logits, labels, op: "selaLoss")
    }
}
