//! Evaluation metrics: F1 per label and macro-F1, threshold choice, and Pearson correlation.

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

#[cfg(test)]
mod tests {
    use super::*;

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
