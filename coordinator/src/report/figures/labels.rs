//! Placing point labels without overlap: labels centred on their points are packed into rows, each label going to
//! the first row where it clears every label already there. Widths are estimated from the character count at the
//! bundled monospace font's advance (0.61 em), an upper bound for the proportional fonts SVG viewers substitute.

/// Estimated width in pixels of `text` at `size` px.
pub(crate) fn width(text: &str, size: u32) -> i32 {
    (text.chars().count() as f64 * size as f64 * 0.61).ceil() as i32
}

/// Horizontal gap kept between labels in one row.
const GAP: i32 = 6;

/// For labels given as (centre x, width), the row of each (0 nearest the axis), with every label kept inside
/// `[lo, hi]`: returns the rows and the centres after clamping.
pub(crate) fn pack(labels: &[(i32, i32)], lo: i32, hi: i32) -> (Vec<usize>, Vec<i32>) {
    let centres: Vec<i32> = labels
        .iter()
        .map(|&(x, w)| {
            let half = w / 2;
            if hi - lo <= w {
                lo + half
            } else {
                x.clamp(lo + half, hi - half)
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by_key(|&i| centres[i] - labels[i].1 / 2);
    // The right edge of the last label placed in each row.
    let mut ends: Vec<i32> = Vec::new();
    let mut rows = vec![0; labels.len()];
    for i in order {
        let left = centres[i] - labels[i].1 / 2;
        let row = match ends.iter().position(|&end| end + GAP <= left) {
            Some(r) => r,
            None => {
                ends.push(i32::MIN);
                ends.len() - 1
            }
        };
        ends[row] = left + labels[i].1;
        rows[i] = row;
    }
    (rows, centres)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_labels_go_to_separate_rows_and_far_ones_share() {
        let labels = [(500, 120), (520, 120), (900, 80), (505, 40)];
        let (rows, centres) = pack(&labels, 0, 1000);
        assert_ne!(rows[0], rows[1], "{rows:?}");
        assert_ne!(rows[0], rows[3]);
        assert_ne!(rows[1], rows[3]);
        assert_eq!(rows[2], 0, "a label far from the others stays on the first row");
        for a in 0..labels.len() {
            for b in a + 1..labels.len() {
                if rows[a] == rows[b] {
                    let (la, ra) = (centres[a] - labels[a].1 / 2, centres[a] + labels[a].1 / 2);
                    let (lb, rb) = (centres[b] - labels[b].1 / 2, centres[b] + labels[b].1 / 2);
                    assert!(
                        ra + GAP <= lb || rb + GAP <= la,
                        "labels {a} and {b} overlap in row {}",
                        rows[a]
                    );
                }
            }
        }
    }

    #[test]
    fn labels_stay_inside_the_plot() {
        let (_, centres) = pack(&[(5, 100), (995, 100)], 0, 1000);
        assert_eq!(centres, vec![50, 950]);
        assert_eq!(width("abc", 10), 19);
    }
}
