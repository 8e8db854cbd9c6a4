//! Evaluation metrics: F1 per label and macro-F1, threshold choice, Pearson correlation and ROC AUC.

/// F1 from counts; 0 when there is nothing to score.
pub fn f1(tp: usize, fp: usize, fn_: usize) -> f64 {
    let denom = 2 * tp + fp + fn_;
    if denom == 0 {
        0.0
    } else {
        2.0 * tp as f64 / denom as f64
    }
}

/// F1 of one label given scores, gold flags and a threshold.
pub fn label_f1(scores: &[f32], gold: &[bool], threshold: f32) -> f64 {
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    for (&s, &g) in scores.iter().zip(gold) {
        match (s >= threshold, g) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            _ => {}
        }
    }
    f1(tp, fp, fn_)
}

/// The threshold (0.02 to 0.95) that gives the best F1 on these scores.
pub fn best_threshold(scores: &[f32], gold: &[bool]) -> f32 {
    let mut best = (0.5f32, -1.0f64);
    for step in 1..=95 {
        let t = step as f32 / 100.0;
        let f = label_f1(scores, gold, t);
        if f > best.1 + 1e-9 {
            best = (t, f);
        }
    }
    best.0
}

/// Pearson correlation; 0 when either side is constant.
pub fn pearson(x: &[f32], y: &[f32]) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return 0.0;
    }
    let mx = x[..n].iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    let my = y[..n].iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let dx = x[i] as f64 - mx;
        let dy = y[i] as f64 - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx <= 0.0 || syy <= 0.0 {
        0.0
    } else {
        sxy / (sxx.sqrt() * syy.sqrt())
    }
}

/// Area under the ROC curve: the chance that a random positive scores above a random negative (ties count half).
/// 0.5 when either class is missing.
pub fn roc_auc(scores: &[f32], gold: &[bool]) -> f64 {
    let n = scores.len().min(gold.len());
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Mann-Whitney U from average ranks, so tied scores share their rank.
    let mut rank = vec![0f64; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            rank[k] = avg;
        }
        i = j + 1;
    }
    let pos = gold[..n].iter().filter(|&&g| g).count();
    let neg = n - pos;
    if pos == 0 || neg == 0 {
        return 0.5;
    }
    let rank_sum: f64 = (0..n).filter(|&k| gold[k]).map(|k| rank[k]).sum();
    let u = rank_sum - (pos * (pos + 1)) as f64 / 2.0;
    u / (pos * neg) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_auc_counts_ordered_pairs() {
        assert_eq!(
            roc_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
            1.0
        );
        assert_eq!(
            roc_auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]),
            0.0
        );
        // One of four pairs misordered, one tied: (2 + 0.5) / 4.
        assert_eq!(
            roc_auc(&[0.1, 0.5, 0.5, 0.3], &[false, false, true, true]),
            0.625
        );
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), 0.5);
    }

    #[test]
    fn f1_and_thresholds() {
        assert_eq!(f1(0, 0, 0), 0.0);
        assert!((f1(1, 1, 0) - 2.0 / 3.0).abs() < 1e-12);
        let scores = [0.9, 0.8, 0.3, 0.2, 0.35];
        let gold = [true, true, false, false, true];
        let t = best_threshold(&scores, &gold);
        assert!(
            (label_f1(&scores, &gold, t) - 1.0).abs() < 1e-12,
            "threshold {t}"
        );
        assert!(t > 0.3 && t <= 0.35);
    }

    #[test]
    fn pearson_is_signed_and_safe() {
        assert!((pearson(&[1., 2., 3.], &[2., 4., 6.]) - 1.0).abs() < 1e-12);
        assert!((pearson(&[1., 2., 3.], &[3., 2., 1.]) + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&[1., 1., 1.], &[1., 2., 3.]), 0.0);
        assert_eq!(pearson(&[], &[]), 0.0);
    }
}
