//! Proto layouts and transitions <-> the `layouts` scene model. The conversion checks what
//! only the wire format can get wrong (a missing oneof, a colour component above 255, an
//! empty id); ranges, NaN, counts and geometry are checked by `layouts::plan` against the
//! session's canvas, whose messages already name the field and the bound. Pure, no IO.

use layouts::{
    Background, BarPosition, Border, Corner, CustomItem, Easing, Fit, Layout, Overlay, Rect, Rgba,
    Scene, ScoreBar, Size, StripSide, Style, Transition,
};
use proto::v1 as pb;
use tonic::Status;

use crate::check::{self, invalid};

/// Most overlays a layout may carry.
pub const MAX_OVERLAYS: usize = 32;

/// Default background colour (the layouts crate's default).
const DEFAULT_BG: Rgba = Rgba::new(16, 16, 24, 255);

pub(crate) fn color(field: &str, c: &pb::Color) -> Result<Rgba, Status> {
    Ok(Rgba::new(
        check::byte(&format!("{field}.r"), c.r)?,
        check::byte(&format!("{field}.g"), c.g)?,
        check::byte(&format!("{field}.b"), c.b)?,
        check::byte(&format!("{field}.a"), c.a)?,
    ))
}

fn fit(value: i32, default: Fit, field: &str) -> Result<Fit, Status> {
    match pb::Fit::try_from(value) {
        Ok(pb::Fit::Unspecified) => Ok(default),
        Ok(pb::Fit::Contain) => Ok(Fit::Contain),
        Ok(pb::Fit::Cover) => Ok(Fit::Cover),
        Ok(pb::Fit::Stretch) => Ok(Fit::Stretch),
        Err(_) => Err(invalid(field, format!("unknown value {value}"))),
    }
}

fn rect(field: &str, r: Option<&pb::Rect>) -> Result<Rect, Status> {
    let r = r.ok_or_else(|| invalid(field, "is required"))?;
    Ok(Rect::new(r.x, r.y, r.w, r.h))
}

fn border(field: &str, b: Option<&pb::Border>) -> Result<Option<Border>, Status> {
    let Some(b) = b else { return Ok(None) };
    let c = b
        .color
        .as_ref()
        .ok_or_else(|| invalid(&format!("{field}.color"), "is required"))?;
    Ok(Some(Border {
        width: b.width,
        color: color(&format!("{field}.color"), c)?,
    }))
}

/// An optional id: empty = none.
fn partner(field: &str, id: &str) -> Result<Option<String>, Status> {
    if id.is_empty() {
        return Ok(None);
    }
    check::id(field, id)?;
    Ok(Some(id.to_owned()))
}

fn ids(field: &str, list: &[String]) -> Result<Vec<String>, Status> {
    for (i, id) in list.iter().enumerate() {
        check::id(&format!("{field}[{i}]"), id)?;
    }
    Ok(list.to_vec())
}

/// Converts a proto layout into a scene (plus the spotlight's follow-the-speaker flag) and
/// validates it whole against `canvas`.
pub fn scene_from_proto(
    field: &str,
    l: &pb::Layout,
    canvas: Size,
) -> Result<(Scene, bool), Status> {
    use pb::layout::Kind;
    let f = |s: &str| format!("{field}.{s}");
    let mut follow = false;
    let layout = match l.kind.as_ref() {
        None => {
            return Err(invalid(
                &f("kind"),
                "is required: one of pk, grid, spotlight, pip, custom",
            ));
        }
        Some(Kind::Pk(p)) => {
            check::id(&f("pk.left_input_id"), &p.left_input_id)?;
            check::id(&f("pk.right_input_id"), &p.right_input_id)?;
            Layout::Pk {
                left: p.left_input_id.clone(),
                right: p.right_input_id.clone(),
                score_bar: ScoreBar {
                    position: if p.score_bar_bottom {
                        BarPosition::Bottom
                    } else {
                        BarPosition::Top
                    },
                    height_frac: p
                        .score_bar_height
                        .unwrap_or(ScoreBar::default().height_frac),
                },
                left_partner: partner(&f("pk.left_partner_input_id"), &p.left_partner_input_id)?,
                right_partner: partner(&f("pk.right_partner_input_id"), &p.right_partner_input_id)?,
                tile_aspect: match (p.tile_aspect_w, p.tile_aspect_h) {
                    (0, 0) => None,
                    (w, h) => Some((w, h)),
                },
            }
        }
        Some(Kind::Grid(g)) => Layout::Grid {
            inputs: ids(&f("grid.input_ids"), &g.input_ids)?,
            tile_aspect: (check::or(g.aspect_w, 16), check::or(g.aspect_h, 9)),
        },
        Some(Kind::Spotlight(s)) => {
            check::id(&f("spotlight.main_input_id"), &s.main_input_id)?;
            follow = s.follow_active_speaker;
            Layout::Spotlight {
                main: s.main_input_id.clone(),
                others: ids(&f("spotlight.other_input_ids"), &s.other_input_ids)?,
                strip: match pb::StripSide::try_from(s.strip) {
                    Ok(pb::StripSide::Unspecified | pb::StripSide::Right) => StripSide::Right,
                    Ok(pb::StripSide::Bottom) => StripSide::Bottom,
                    Err(_) => {
                        return Err(invalid(
                            &f("spotlight.strip"),
                            format!("unknown value {}", s.strip),
                        ));
                    }
                },
                strip_frac: s.strip_fraction.unwrap_or(0.25),
            }
        }
        Some(Kind::Pip(p)) => {
            check::id(&f("pip.main_input_id"), &p.main_input_id)?;
            let margin = p.margin.unwrap_or(24);
            check::range_u32(&f("pip.margin"), margin, 0, 4096)?;
            Layout::Pip {
                main: p.main_input_id.clone(),
                insets: ids(&f("pip.inset_input_ids"), &p.inset_input_ids)?,
                corner: match pb::Corner::try_from(p.corner) {
                    Ok(pb::Corner::Unspecified | pb::Corner::BottomRight) => Corner::BottomRight,
                    Ok(pb::Corner::TopLeft) => Corner::TopLeft,
                    Ok(pb::Corner::TopRight) => Corner::TopRight,
                    Ok(pb::Corner::BottomLeft) => Corner::BottomLeft,
                    Err(_) => {
                        return Err(invalid(
                            &f("pip.corner"),
                            format!("unknown value {}", p.corner),
                        ));
                    }
                },
                size_frac: p.size_fraction.unwrap_or(0.25),
                margin,
            }
        }
        Some(Kind::Custom(c)) => {
            let mut items = Vec::with_capacity(c.items.len());
            for (i, it) in c.items.iter().enumerate() {
                let g = |s: &str| format!("{field}.custom.items[{i}].{s}");
                check::id(&g("input_id"), &it.input_id)?;
                items.push(CustomItem {
                    input: it.input_id.clone(),
                    rect: rect(&g("rect"), it.rect.as_ref())?,
                    fit: fit(it.fit, Fit::Cover, &g("fit"))?,
                    z: it.z,
                    opacity: it.opacity.unwrap_or(1.0),
                    corner_radius: it.corner_radius,
                    border: border(&g("border"), it.border.as_ref())?,
                });
            }
            Layout::Custom { items }
        }
    };
    let style = match l.style.as_ref() {
        None => Style::default(),
        Some(s) => Style {
            gap: s.gap,
            corner_radius: s.corner_radius,
            border: border(&f("style.border"), s.border.as_ref())?,
            fit: fit(s.fit, Fit::Cover, &f("style.fit"))?,
        },
    };
    let background = match l.background.as_ref() {
        None => Background::default(),
        Some(b) => {
            let c = match b.color.as_ref() {
                None => DEFAULT_BG,
                Some(c) => Rgba {
                    a: 255,
                    ..color(&f("background.color"), c)?
                },
            };
            if b.image_id.is_empty() {
                Background::Color { color: c }
            } else {
                check::id(&f("background.image_id"), &b.image_id)?;
                Background::Image {
                    image: b.image_id.clone(),
                    color: c,
                }
            }
        }
    };
    if l.overlays.len() > MAX_OVERLAYS {
        return Err(invalid(
            &f("overlays"),
            format!(
                "{} overlays; at most {MAX_OVERLAYS} allowed",
                l.overlays.len()
            ),
        ));
    }
    let mut overlays = Vec::with_capacity(l.overlays.len());
    for (i, o) in l.overlays.iter().enumerate() {
        let g = |s: &str| format!("{field}.overlays[{i}].{s}");
        check::id(&g("image_id"), &o.image_id)?;
        overlays.push(Overlay {
            image: o.image_id.clone(),
            rect: rect(&g("rect"), o.rect.as_ref())?,
            opacity: o.opacity.unwrap_or(1.0),
            z: o.z.unwrap_or(100),
            fit: fit(o.fit, Fit::Contain, &g("fit"))?,
        });
    }
    let scene = Scene {
        layout,
        style,
        background,
        overlays,
        name_tags: l.name_tags,
    };
    layouts::plan(&scene, canvas).map_err(|e| invalid(field, e))?;
    if let (true, Layout::Spotlight { others, .. }) = (follow, &scene.layout)
        && others.is_empty()
    {
        return Err(invalid(
            &f("spotlight.follow_active_speaker"),
            "needs at least one other input to swap with",
        ));
    }
    Ok((scene, follow))
}

/// Converts and validates a proto transition (None = cut).
pub fn transition_from_proto(
    field: &str,
    t: Option<&pb::Transition>,
) -> Result<Option<Transition>, Status> {
    let Some(t) = t else { return Ok(None) };
    let easing = match pb::Easing::try_from(t.easing) {
        Ok(pb::Easing::Unspecified | pb::Easing::EaseInOut) => Easing::EaseInOut,
        Ok(pb::Easing::Linear) => Easing::Linear,
        Ok(pb::Easing::CubicBezier) => {
            let b = t.bezier.as_ref().ok_or_else(|| {
                invalid(
                    &format!("{field}.bezier"),
                    "is required with EASING_CUBIC_BEZIER",
                )
            })?;
            Easing::CubicBezier {
                x1: b.x1,
                y1: b.y1,
                x2: b.x2,
                y2: b.y2,
            }
        }
        Err(_) => {
            return Err(invalid(
                &format!("{field}.easing"),
                format!("unknown value {}", t.easing),
            ));
        }
    };
    let tr = Transition {
        duration_ms: t.duration_ms,
        easing,
    };
    layouts::check_transition(&tr).map_err(|e| invalid(field, e))?;
    Ok(Some(tr))
}

fn color_to_proto(c: Rgba) -> pb::Color {
    pb::Color {
        r: c.r.into(),
        g: c.g.into(),
        b: c.b.into(),
        a: c.a.into(),
    }
}

fn fit_to_proto(f: Fit) -> i32 {
    match f {
        Fit::Contain => pb::Fit::Contain as i32,
        Fit::Cover => pb::Fit::Cover as i32,
        Fit::Stretch => pb::Fit::Stretch as i32,
    }
}

fn border_to_proto(b: Option<Border>) -> Option<pb::Border> {
    b.map(|b| pb::Border {
        width: b.width,
        color: Some(color_to_proto(b.color)),
    })
}

fn rect_to_proto(r: Rect) -> pb::Rect {
    pb::Rect {
        x: r.x,
        y: r.y,
        w: r.w,
        h: r.h,
    }
}

/// The proto form of a scene (for `Session.layout`); `scene_from_proto` of it gives `scene`
/// back.
pub fn scene_to_proto(scene: &Scene, follow_active_speaker: bool) -> pb::Layout {
    use pb::layout::Kind;
    let kind = match &scene.layout {
        Layout::Pk {
            left,
            right,
            score_bar,
            left_partner,
            right_partner,
            tile_aspect,
        } => Kind::Pk(pb::PkLayout {
            left_input_id: left.clone(),
            right_input_id: right.clone(),
            score_bar_height: Some(score_bar.height_frac),
            score_bar_bottom: score_bar.position == BarPosition::Bottom,
            left_partner_input_id: left_partner.clone().unwrap_or_default(),
            right_partner_input_id: right_partner.clone().unwrap_or_default(),
            tile_aspect_w: tile_aspect.map_or(0, |a| a.0),
            tile_aspect_h: tile_aspect.map_or(0, |a| a.1),
        }),
        Layout::Grid {
            inputs,
            tile_aspect,
        } => Kind::Grid(pb::GridLayout {
            input_ids: inputs.clone(),
            aspect_w: tile_aspect.0,
            aspect_h: tile_aspect.1,
        }),
        Layout::Spotlight {
            main,
            others,
            strip,
            strip_frac,
        } => Kind::Spotlight(pb::SpotlightLayout {
            main_input_id: main.clone(),
            other_input_ids: others.clone(),
            strip: match strip {
                StripSide::Right => pb::StripSide::Right as i32,
                StripSide::Bottom => pb::StripSide::Bottom as i32,
            },
            strip_fraction: Some(*strip_frac),
            follow_active_speaker,
        }),
        Layout::Pip {
            main,
            insets,
            corner,
            size_frac,
            margin,
        } => Kind::Pip(pb::PipLayout {
            main_input_id: main.clone(),
            inset_input_ids: insets.clone(),
            corner: match corner {
                Corner::TopLeft => pb::Corner::TopLeft as i32,
                Corner::TopRight => pb::Corner::TopRight as i32,
                Corner::BottomLeft => pb::Corner::BottomLeft as i32,
                Corner::BottomRight => pb::Corner::BottomRight as i32,
            },
            size_fraction: Some(*size_frac),
            margin: Some(*margin),
        }),
        Layout::Custom { items } => Kind::Custom(pb::CustomLayout {
            items: items
                .iter()
                .map(|it| pb::CustomItem {
                    input_id: it.input.clone(),
                    rect: Some(rect_to_proto(it.rect)),
                    fit: fit_to_proto(it.fit),
                    z: it.z,
                    opacity: Some(it.opacity),
                    corner_radius: it.corner_radius,
                    border: border_to_proto(it.border),
                })
                .collect(),
        }),
    };
    let background = match &scene.background {
        Background::Color { color } => pb::Background {
            color: Some(color_to_proto(*color)),
            image_id: String::new(),
        },
        Background::Image { image, color } => pb::Background {
            color: Some(color_to_proto(*color)),
            image_id: image.clone(),
        },
    };
    pb::Layout {
        kind: Some(kind),
        style: Some(pb::Style {
            gap: scene.style.gap,
            corner_radius: scene.style.corner_radius,
            border: border_to_proto(scene.style.border),
            fit: fit_to_proto(scene.style.fit),
        }),
        background: Some(background),
        overlays: scene
            .overlays
            .iter()
            .map(|o| pb::Overlay {
                image_id: o.image.clone(),
                rect: Some(rect_to_proto(o.rect)),
                opacity: Some(o.opacity),
                z: Some(o.z),
                fit: fit_to_proto(o.fit),
            })
            .collect(),
        name_tags: scene.name_tags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk() -> pb::Layout {
        pb::Layout {
            kind: Some(pb::layout::Kind::Pk(pb::PkLayout {
                left_input_id: "a".into(),
                right_input_id: "b".into(),
                score_bar_height: None,
                score_bar_bottom: false,
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn round_trips_through_proto() {
        let canvas = Size::new(320, 180);
        let (scene, follow) = scene_from_proto("layout", &pk(), canvas).unwrap();
        assert!(!follow);
        let back = scene_to_proto(&scene, false);
        let (again, _) = scene_from_proto("layout", &back, canvas).unwrap();
        assert_eq!(scene, again);
    }

    #[test]
    fn refusals_name_the_field() {
        let canvas = Size::new(320, 180);
        let e = scene_from_proto("layout", &pb::Layout::default(), canvas).unwrap_err();
        assert!(
            e.message().starts_with("layout.kind: is required"),
            "{}",
            e.message()
        );
        let mut l = pk();
        if let Some(pb::layout::Kind::Pk(p)) = l.kind.as_mut() {
            p.score_bar_height = Some(f32::NAN);
        }
        let e = scene_from_proto("layout", &l, canvas).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().contains("finite"), "{}", e.message());
        let e = transition_from_proto(
            "transition",
            Some(&pb::Transition {
                duration_ms: 10_001,
                easing: 0,
                bezier: None,
            }),
        )
        .unwrap_err();
        assert!(e.message().contains("10000"), "{}", e.message());
    }
}
