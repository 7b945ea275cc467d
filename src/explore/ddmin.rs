//! Delta debugging (Zeller and Hildebrandt, "Simplifying and Isolating Failure-Inducing Input",
//! 2002): given a sequence for which a test holds (a scenario's faults for which a run still
//! fails), find a subsequence for which it still holds and from which no single element can be
//! removed. `kafkasim shrink` uses it over the faults of a failing run.

/// Delta debugging (Zeller's ddmin): a 1-minimal subsequence of `items` for which `test` holds,
/// assuming it holds for `items`. The empty sequence is tried first. `test` is called only with
/// subsequences of `items`, in their original order.
pub fn ddmin<T: Clone>(items: &[T], test: &mut dyn FnMut(&[T]) -> bool) -> Vec<T> {
    let mut current = items.to_vec();
    if current.is_empty() || test(&[]) {
        return Vec::new();
    }
    let mut n = 2usize;
    while current.len() >= 2 {
        let chunks = split(&current, n);
        let mut reduced = false;
        for chunk in &chunks {
            if test(chunk) {
                current = chunk.clone();
                n = 2;
                reduced = true;
                break;
            }
        }
        if !reduced && n > 2 {
            for i in 0..chunks.len() {
                let complement: Vec<T> = chunks.iter().enumerate().filter(|(j, _)| *j != i).flat_map(|(_, c)| c.iter().cloned()).collect();
                if test(&complement) {
                    current = complement;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if !reduced {
            if n >= current.len() {
                break;
            }
            n = (2 * n).min(current.len());
        }
    }
    current
}

/// `items` in `n` consecutive chunks of nearly equal size (none empty when `n <= len`).
fn split<T: Clone>(items: &[T], n: usize) -> Vec<Vec<T>> {
    let n = n.min(items.len()).max(1);
    let (size, extra) = (items.len() / n, items.len() % n);
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for i in 0..n {
        let len = size + usize::from(i < extra);
        out.push(items[start..start + len].to_vec());
        start += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddmin_finds_the_one_element_that_matters() {
        let items: Vec<u32> = (0..10).collect();
        let mut calls = 0;
        let found = ddmin(&items, &mut |s| {
            calls += 1;
            s.contains(&7)
        });
        assert_eq!(found, vec![7]);
        assert!(calls < 40, "{calls} calls");
    }

    #[test]
    fn ddmin_finds_a_pair_far_apart() {
        let items: Vec<u32> = (0..16).collect();
        let found = ddmin(&items, &mut |s| s.contains(&2) && s.contains(&13));
        assert_eq!(found, vec![2, 13]);
    }

    #[test]
    fn ddmin_is_one_minimal_with_alternatives() {
        // Fails with {1, 4} or with {6}: ddmin returns one of them, and no element of it can go.
        let items: Vec<u32> = (0..8).collect();
        let test = |s: &[u32]| (s.contains(&1) && s.contains(&4)) || s.contains(&6);
        let found = ddmin(&items, &mut |s| test(s));
        assert!(test(&found));
        for i in 0..found.len() {
            let mut less = found.clone();
            less.remove(i);
            assert!(!test(&less), "{found:?} is not 1-minimal");
        }
    }

    #[test]
    fn ddmin_returns_nothing_when_nothing_is_needed() {
        let items = vec!['a', 'b', 'c'];
        assert!(ddmin(&items, &mut |_| true).is_empty());
        assert_eq!(ddmin(&['x'], &mut |s| !s.is_empty()), vec!['x']);
    }
}
