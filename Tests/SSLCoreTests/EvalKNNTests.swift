// KNNClassifier: against a brute-force weighted kNN, DINO's knn_classifier (torch float64
// fixtures), the Double reference, chunked against unchunked, ties, and errors.
import Foundation
import Testing
@testable import SSLCore
@testable import SSLTrain

/// Each row divided by its sum: removes the common factor exp(s_best/T) between our votes and DINO's.
private func evalShares(_ votes: [Double], columns: Int) -> [Double] {
    stride(from: 0, to: votes.count, by: columns).flatMap { start -> [Double] in
        let row = votes[start..<(start + columns)], total = row.reduce(0, +)
        return row.map { $0 / total }
    }
}

@Suite struct EvalKNNTests {
    static let classifiers: [KNNClassifier] = [
        KNNClassifier(k: 1, temperature: 0.07), KNNClassifier(k: 3, temperature: 0.5, testChunk: 4, trainChunk: 7),
        KNNClassifier(k: 10, temperature: 1, testChunk: 1, trainChunk: 3), KNNClassifier(k: 45, temperature: 0.07, trainChunk: 16),
    ]

    @Test("predictions and votes equal a brute-force weighted kNN for several k, T and chunkings")
    func matchesBruteForce() throws {
        let train = try evalRandomFeatures(45, 6, seed: 1), test = try evalRandomFeatures(13, 6, seed: 2)
        let labels = evalRandomLabels(45, classes: 4, seed: 3).map { $0 * 10 + 5 }  // labels 5, 15, 25, 35
        for knn in Self.classifiers {
            let expected = evalBruteKNN(train: train, labels: labels, test: test, k: knn.k, temperature: Double(knn.temperature))
            try forEachBackend { backend in
                let got = try knn.classify(train: train, labels: labels, test: test, on: backend)
                #expect(got.classes == [5, 15, 25, 35])
                #expect(got.predictions == expected.predictions, "k \(knn.k) T \(knn.temperature) on \(backend.name)")
                // Shares of float32 votes: similarities carry ~D·2⁻²⁴, weights exp(Δs/T) ~1/T times that.
                assertClose(evalShares(got.votes.map(Double.init), columns: 4).map(Float.init),
                            evalShares(expected.votes.flatMap { $0 }, columns: 4), shape: [got.votes.count],
                            expectedShape: [expected.votes.count * 4], rtol: 1e-4, atol: 1e-6,
                            "votes k \(knn.k) on \(backend.name)")
            }
        }
    }

    @Test("ties: equal similarities go to the lower train index, equal votes to the lowest label")
    func ties() throws {
        // One-hot features: every similarity is exactly 0 or 1 on any backend and in any order.
        let train = try FeatureMatrix(values: [1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0], rows: 6, columns: 2)
        let labels = [7, 9, 3, 1, 9, 1]  // rows with (1, 0): 0 → 7, 2 → 3, 3 → 1, 5 → 1
        let test = try FeatureMatrix(values: [2, 0], rows: 1, columns: 2)
        // k 1: row 0 alone → 7. k 2: rows 0, 2 → 7 and 3 tie → 3. k 3: rows 0, 2, 3 → 1, 3, 7 tie → 1.
        // k 4: 1 gets two votes → 1. k 5: + row 1 (similarity 0, weight e^(−1/T)) → still 1.
        for (k, expected) in [(1, 7), (2, 3), (3, 1), (4, 1), (5, 1)] {
            let brute = evalBruteKNN(train: train, labels: labels, test: test, k: k, temperature: 0.07)
            #expect(brute.predictions == [expected])
            try forEachBackend { backend in
                for chunk in [1, 2, 6] {
                    let got = try KNNClassifier(k: k, trainChunk: chunk).classify(train: train, labels: labels, test: test, on: backend)
                    #expect(got.predictions == [expected], "k \(k) chunk \(chunk) on \(backend.name)")
                }
            }
        }
    }

    static let dinoCases: [(Int, Float)] = [(1, 0.07), (5, 0.07), (20, 0.07), (20, 0.5), (60, 0.07)]

    @Test("equals DINO's knn_classifier in torch float64 (fixtures)", arguments: dinoCases)
    func matchesDINO(_ c: (Int, Float)) throws {
        let train = try EvalFixtures.features("knn_train_features"), test = try EvalFixtures.features("knn_test_features")
        let trainLabels = try EvalFixtures.integers("knn_train_labels"), testLabels = try EvalFixtures.integers("knn_test_labels")
        let tag = "knn_k\(c.0)_t\(c.1)"
        let votes = try EvalFixtures.doubles(tag + "_votes")
        let predictions = try EvalFixtures.integers(tag + "_predictions")
        let top1 = try EvalFixtures.doubles(tag + "_top1")[0]
        try forEachBackend { backend in
            let got = try KNNClassifier(k: c.0, temperature: c.1, testChunk: 10, trainChunk: 25)
                .classify(train: train, labels: trainLabels, test: test, on: backend)
            #expect(got.predictions == predictions, "\(tag) on \(backend.name)")
            let accuracy = try EvalMetrics.accuracy(predictions: got.predictions, labels: testLabels)
            #expect(abs(accuracy * 100 - top1) < 1e-9, "\(tag) on \(backend.name)")
            assertClose(evalShares(got.votes.map(Double.init), columns: 5).map(Float.init), evalShares(votes, columns: 5),
                        shape: [got.votes.count], expectedShape: [votes.count], rtol: 1e-4, atol: 1e-6, "\(tag) votes on \(backend.name)")
        }
    }

    @Test("chunked equals unchunked, and both equal the Double reference (EvalReference.knnClassify)")
    func chunkedEqualsUnchunked() throws {
        let (n, m, d) = (70, 33, 9)
        let train = try evalRandomFeatures(n, d, seed: 11), test = try evalRandomFeatures(m, d, seed: 12)
        let labels = evalRandomLabels(n, classes: 6, seed: 13)
        let reference = try EvalReference.knnClassify(train: train.values.map(Double.init), trainLabels: labels,
                                                  test: test.values.map(Double.init), d: d, k: 20, temperature: 0.07)
        try forEachBackend { backend in
            let whole = try KNNClassifier(testChunk: 1000, trainChunk: 1000).classify(train: train, labels: labels, test: test, on: backend)
            #expect(whole.predictions == reference.predictions, "\(backend.name)")
            // Reference votes are scaled as ours (best neighbour 1); float32 similarities, see matchesBruteForce.
            assertClose(whole.votes, reference.votes, shape: [whole.votes.count], expectedShape: [reference.votes.count],
                        rtol: 1e-4, atol: 1e-5, "unchunked vs reference on \(backend.name)")
            for (testChunk, trainChunk) in [(7, 5), (1, 3), (33, 69), (32, 1)] {
                let chunked = try KNNClassifier(testChunk: testChunk, trainChunk: trainChunk)
                    .classify(train: train, labels: labels, test: test, on: backend)
                #expect(chunked.predictions == whole.predictions, "chunks \(testChunk)×\(trainChunk) on \(backend.name)")
                // Blocks of another size may take another GEMM kernel: float32 rounding only.
                assertClose(chunked.votes, whole.votes.map(Double.init), shape: [chunked.votes.count],
                            expectedShape: [whole.votes.count], rtol: 1e-5, atol: 1e-6, "chunks \(testChunk)×\(trainChunk)")
            }
        }
    }

    @Test("k = N uses every train sample; k > N, k < 1, bad labels, shapes or chunks are errors")
    func errors() throws {
        let train = try evalRandomFeatures(5, 3, seed: 21), queries = try evalRandomFeatures(4, 3, seed: 22)
        let labels = [0, 1, 0, 1, 1]
        let all = try KNNClassifier(k: 5, temperature: 1e-3).classify(train: train, labels: labels, test: queries, on: TestBackends.reference)
        #expect(all.votes.allSatisfy { $0.isFinite })  // T = 0.001 overflows exp(s/T), not exp((s − s_best)/T)
        func message(_ knn: KNNClassifier, labels: [Int] = labels, test: FeatureMatrix? = nil) -> String {
            do {
                _ = try knn.classify(train: train, labels: labels, test: test ?? queries, on: TestBackends.reference)
                return "no error"
            } catch { return "\(error)" }
        }
        #expect(message(KNNClassifier(k: 6)) == "knn: k = 6 must be in 1...5, the number of train samples")
        #expect(message(KNNClassifier(k: 0)).contains("k = 0"))
        #expect(message(KNNClassifier(), labels: [0, 1]) == "knn: shape mismatch: 2 train labels for 5 train samples")
        #expect(message(KNNClassifier(k: 2), test: try evalRandomFeatures(2, 4, seed: 1)).contains("3 columns but test features 4"))
        #expect(message(KNNClassifier(k: 2, temperature: 0)).contains("temperature"))
        #expect(message(KNNClassifier(k: 2, testChunk: 0)).contains("testChunk must be at least 1"))
        #expect(message(KNNClassifier(k: 2, trainChunk: -1)).contains("trainChunk must be at least 1"))
        #expect(throws: SSLError.self) { try FeatureMatrix(values: [1, .nan], rows: 1, columns: 2) }
        #expect(throws: SSLError.self) { try FeatureMatrix(values: [1, 2, 3], rows: 1, columns: 2) }
    }
}
