// The one collective a synchronised layer needs, as a protocol, so that SSLTrain depends on no
// transport: the trainer implements it over MPI, the tests over simulated ranks.

/// The element-wise sum of a vector over the ranks of a data-parallel group: an in-place
/// all-reduce, as `MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, comm)`.
///
/// Every rank calls ``sum(_:)`` the same number of times, in the same order, with vectors of the
/// same length, and every rank gets back the same total, bit for bit (MPI's all-reduce does), so
/// state derived from it (batch norm's running statistics) stays identical on all ranks.
///
/// ```swift
/// var v = [Double(localCount), localSum]
/// try group.sum(&v)                    // v = [Σ_r count_r, Σ_r sum_r] on every rank
/// ```
///
/// ### See Also
/// - ``BatchNorm/synchronization``
public protocol CrossRankSum: AnyObject {
    /// Replaces `values` by their element-wise sum over the ranks of the group; the length stays.
    /// - Throws: when the reduction fails (a lost rank); `values` is then unspecified.
    func sum(_ values: inout [Double]) throws
}
