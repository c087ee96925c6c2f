//! The line under each figure that says what to look at, computed from the figure's own data (the closest attack,
//! the largest off-diagonal cell, the best Adam iterate), so the sentence is never generic where a number can say it.
use super::curves::LogChart;
use crate::report::published::{self, Kind};
use crate::report::tables::Table1Row;
use forgebench_shared::numfmt::{error, ratio};
use forgebench_shared::results::{AdamReport, DomainReport, ShuffleReport};
use forgebench_shared::tables::CrossDeviceMatrix;

/// Under the benign-versus-attack strips: the attack closest to benign noise.
pub(crate) fn strips(rows: &[Table1Row]) -> String {
    let closest = rows
        .iter()
        .filter_map(|r| Some((r, r.ratio.filter(|x| x.is_finite())?)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    match closest {
        Some((r, x)) => format!(
            "Look at the gap between each strip's circles (benign) and triangles (attacks): the closest is {} on \
             {} b={} at {} its largest benign error, {}; a triangle within 10x of its circle passes a PoL verifier.",
            r.attack.as_deref().unwrap_or("an attack"),
            r.model,
            r.batch_size,
            ratio(x),
            r.verdict.map_or("undetermined", |v| v.word())
        ),
        None => "Look at the circles: the largest benign error of each setting (no attack with a benign figure to \
                 compare was run)."
            .into(),
    }
}

/// Under a matrix's heatmap: the largest cell off the diagonal and what the diagonal shows.
pub(crate) fn matrix(m: &CrossDeviceMatrix) -> String {
    let mut off: Option<(f64, usize, usize)> = None;
    let mut diag = 0.0f64;
    for (i, row) in m.cells.iter().enumerate() {
        for (j, c) in row.iter().enumerate() {
            let Some(c) = c else { continue };
            let v = c.summary.l2.max;
            if i == j {
                diag = diag.max(v);
            } else if off.is_none_or(|o| v > o.0) {
                off = Some((v, i, j));
            }
        }
    }
    let name = |i: usize| m.devices[i].profile.name.clone();
    let diagonal = if diag == 0.0 {
        "the diagonal (a device repeating its own computation) is bitwise equal".to_owned()
    } else {
        format!(
            "the diagonal (a device repeating its own computation) reaches {}",
            error(diag)
        )
    };
    match off {
        Some((v, i, j)) => format!(
            "Look at the off-diagonal cells, a log recomputed on another device: the largest is {} (written on {}, \
             verified on {}); {diagonal}.",
            error(v),
            name(i),
            name(j)
        ),
        None => format!("Look at the diagonal: one device only; {diagonal}."),
    }
}

/// Under an Adam figure: the best iterate (what a forger keeps) against the last, and the paper's figure.
pub(crate) fn adam(chart: &LogChart, runs: &[&AdamReport]) -> String {
    let best = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(move |p| (p.1, p.0, &s.label)))
        .filter(|p| p.0.is_finite())
        .min_by(|a, b| a.0.total_cmp(&b.0));
    let last = runs.iter().map(|r| r.final_error.l2).fold(f64::NAN, f64::min);
    let Some((v, it, label)) = best else {
        return "Look at the curves: no finite error was recorded.".into();
    };
    let s = &runs[0].spec;
    let paper = published::for_attack(&s.attack(), s.model, s.dataset, s.batch_size).map_or(String::new(), |p| {
        format!("; the paper's Figure 2 reaches about {}", error(p.l2()))
    });
    format!(
        "Look at the lowest point of the curves, the iterate a forger keeps: {} ({label}, iteration {}); the \
         smallest last iterate is {}{paper}.",
        error(v),
        it as usize,
        error(last)
    )
}

/// Under a comparison of optimisation-forging variants: which ends lowest, and where each ends.
pub(crate) fn compare(chart: &LogChart) -> String {
    let ends: Vec<(f64, &str)> = chart
        .series
        .iter()
        .filter_map(|s| s.points.last().map(|p| (p.1, s.label.as_str())))
        .collect();
    let Some(low) = ends
        .iter()
        .filter(|e| e.0.is_finite())
        .min_by(|a, b| a.0.total_cmp(&b.0))
    else {
        return "Look at the lines' ends: no finite error was recorded.".into();
    };
    let each: Vec<String> = ends.iter().map(|(v, l)| format!("{l}: {}", error(*v))).collect();
    format!(
        "Look at where the lines end, the best batch each variant found: {} ends lowest ({}).",
        low.1,
        each.join("; ")
    )
}

/// Under a domain-search figure: where the walk ends inside the domain, soft and one-hot, against benign noise.
pub(crate) fn domain(d: &DomainReport, benign: Option<f64>) -> String {
    let against = |v: f64| match benign {
        Some(b) if b > 0.0 => format!(" ({} the largest benign error)", ratio(v / b)),
        _ => String::new(),
    };
    let (soft, hard) = (d.soft.error_f32.l2, d.hard.error_f32.l2);
    format!(
        "Look at the last point, the batch inside the domain: {}{} in f32 with soft labels, {}{} once the labels \
         are one-hot; its nearest forged input lies {:.2} from a real one (real inputs' nearest neighbours: {:.2}).",
        error(soft),
        against(soft),
        error(hard),
        against(hard),
        d.hard.nearest_real,
        d.real_neighbour_distance
    )
}

/// Under a shuffle figure: how many orders agree bitwise and the largest error, beside the paper's Figure 4.
pub(crate) fn shuffle(r: &ShuffleReport) -> String {
    let s = &r.spec;
    let zeros = r.errors.iter().filter(|e| e.l2 == 0.0).count();
    let paper = published::find(|k| *k == Kind::Shuffle, s.model, s.dataset, s.batch_size)
        .next()
        .map_or(String::new(), |p| {
            format!("; the paper's Figure 4 shows about {}", error(p.l2()))
        });
    format!(
        "Look at the height of the points: reordering the batch alone moves the update by up to {} ({zeros} of {} \
         orders bitwise equal){paper}.",
        error(r.summary.l2.max),
        r.errors.len()
    )
}

/// Under an image grid.
pub(crate) fn grid() -> String {
    "Look at the forged rows beside the real ones: forged examples that are the real examples superimposed, or \
     values outside [0, 1], give a forgery away to the eye (the paper's Figure 3)."
        .into()
}
