use super::*;

fn columns() -> [Column; 4] {
    [
        Column {
            title: "campaign",
            plain_width: 12,
            wraps: false,
            drop_rank: 0,
        },
        Column {
            title: "name",
            plain_width: 10,
            wraps: true,
            drop_rank: 0,
        },
        Column {
            title: "changed",
            plain_width: 20,
            wraps: false,
            drop_rank: 1,
        },
        Column {
            title: "last seen",
            plain_width: 20,
            wraps: false,
            drop_rank: 2,
        },
    ]
}

fn rows() -> Vec<Vec<String>> {
    vec![vec![
        "camp_0123456789".into(),
        "A very long campaign name that wraps".into(),
        "2026-12-02 01:40:35Z".into(),
        "2026-12-02 01:40:35Z".into(),
    ]]
}

#[test]
fn narrow_terminals_drop_the_least_needed_columns_first() {
    let cases: [(usize, &[usize]); 4] = [
        (200, &[0, 1, 2, 3]),
        (80, &[0, 1, 2, 3]),
        (70, &[0, 1, 2]),
        (40, &[0, 1]),
    ];
    for (width, kept) in cases {
        assert_eq!(
            columns_that_fit(&columns(), &rows(), width),
            kept,
            "{width}"
        );
    }
}

#[test]
fn a_fitted_table_stays_within_the_width_and_keeps_ids_whole() {
    for width in [40u16, 70, 120] {
        let text = table(&columns(), &rows(), Some(width));
        for line in text.lines() {
            assert!(
                line.chars().count() <= usize::from(width),
                "{width}: {line:?}"
            );
        }
        assert!(text.contains("camp_0123456789"), "{text}");
        assert!(text.contains('─'), "{text}");
    }
}

#[test]
fn piped_tables_are_one_padded_row_per_line() {
    let text = table(&columns(), &rows(), None);
    assert_eq!(
        text,
        "campaign     name       changed              last seen\n\
         camp_0123456789 A very long campaign name that wraps 2026-12-02 01:40:35Z 2026-12-02 01:40:35Z\n"
    );
}
