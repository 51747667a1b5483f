//! Arrow record batches → JSON objects, value for value as HF `datasets` returns rows
//! (`Dataset.__getitem__` → `pyarrow.Table.to_pylist()`): columns in schema order, integers as
//! integers, `Sequence`/`list` columns as arrays, struct columns (including `Sequence` of a dict,
//! which `datasets` stores as a struct of lists) as objects, nulls as `null`.
//!
//! Only the types HF text data sets use are supported; anything else is an error naming the type,
//! so a new column type can never be silently mangled.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use serde_json::{Map, Value};

/// Row `i` of `batch` as a JSON object, columns in schema order.
pub(crate) fn row(batch: &RecordBatch, i: usize) -> Result<Map<String, Value>, String> {
    let schema = batch.schema();
    let mut object = Map::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        let v = value(column.as_ref(), i).map_err(|e| format!("column `{}`: {e}", field.name()))?;
        object.insert(field.name().clone(), v);
    }
    Ok(object)
}

/// Element `i` of `array` as JSON.
pub(crate) fn value(array: &dyn Array, i: usize) -> Result<Value, String> {
    if array.is_null(i) {
        return Ok(Value::Null);
    }
    Ok(match array.data_type() {
        DataType::Null => Value::Null,
        DataType::Boolean => Value::Bool(array.as_boolean().value(i)),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(i).into(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(i).into(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(i).into(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(i).into(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(i).into(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(i).into(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(i).into(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(i).into(),
        // Python widens float32 to a double, as `f64::from` does.
        DataType::Float32 => f64::from(array.as_primitive::<Float32Type>().value(i)).into(),
        DataType::Float64 => array.as_primitive::<Float64Type>().value(i).into(),
        DataType::Utf8 => array.as_string::<i32>().value(i).into(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(i).into(),
        DataType::Utf8View => array.as_string_view().value(i).into(),
        DataType::List(_) => elements(array.as_list::<i32>().value(i).as_ref())?,
        DataType::LargeList(_) => elements(array.as_list::<i64>().value(i).as_ref())?,
        DataType::FixedSizeList(..) => elements(array.as_fixed_size_list().value(i).as_ref())?,
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut object = Map::with_capacity(fields.len());
            for (field, column) in fields.iter().zip(s.columns()) {
                let v = value(column.as_ref(), i)
                    .map_err(|e| format!("field `{}`: {e}", field.name()))?;
                object.insert(field.name().clone(), v);
            }
            Value::Object(object)
        }
        other => return Err(format!("unsupported Arrow type {other}")),
    })
}

/// All elements of a list's values slice.
fn elements(values: &dyn Array) -> Result<Value, String> {
    (0..values.len())
        .map(|j| value(values, j))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::{
        ArrayRef, BooleanArray, Float32Array, Int32Array, Int64Array, LargeStringArray,
        StringArray, StructArray,
    };
    use arrow_schema::{Field, Fields};
    use serde_json::json;

    use super::*;

    fn strings(rows: &[Option<&[&str]>]) -> ArrayRef {
        let mut b = ListBuilder::new(StringBuilder::new());
        for r in rows {
            match r {
                Some(items) => {
                    for s in *items {
                        b.values().append_value(s);
                    }
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        Arc::new(b.finish())
    }

    #[test]
    fn scalars_lists_and_structs_convert_like_datasets() {
        let text = strings(&[Some(&["a", "b"]), Some(&[])]);
        let label = strings(&[Some(&["A", "B"]), Some(&[])]);
        let choices = StructArray::new(
            Fields::from(vec![
                Field::new("text", text.data_type().clone(), true),
                Field::new("label", label.data_type().clone(), true),
            ]),
            vec![text, label],
            None,
        );
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("id", Arc::new(StringArray::from(vec![Some("q1"), None]))),
            ("ind", Arc::new(Int32Array::from(vec![7, -2]))),
            ("answer", Arc::new(Int64Array::from(vec![3, 0]))),
            ("ok", Arc::new(BooleanArray::from(vec![true, false]))),
            ("p", Arc::new(Float32Array::from(vec![0.5, 0.1]))),
            (
                "big",
                Arc::new(LargeStringArray::from(vec!["x\ny", "\u{e9}"])),
            ),
            ("endings", strings(&[Some(&["e1", "e2"]), None])),
            ("choices", Arc::new(choices)),
        ];
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        assert_eq!(
            Value::Object(row(&batch, 0).unwrap()),
            json!({"id": "q1", "ind": 7, "answer": 3, "ok": true, "p": 0.5, "big": "x\ny",
                   "endings": ["e1", "e2"],
                   "choices": {"text": ["a", "b"], "label": ["A", "B"]}})
        );
        let second = row(&batch, 1).unwrap();
        assert_eq!(
            serde_json::to_string(&second).unwrap(),
            r#"{"id":null,"ind":-2,"answer":0,"ok":false,"p":0.10000000149011612,"big":"é","endings":null,"choices":{"text":[],"label":[]}}"#
        );
    }

    #[test]
    fn unsupported_types_are_errors() {
        let batch = RecordBatch::try_from_iter(vec![(
            "bytes",
            Arc::new(arrow_array::BinaryArray::from(vec![&b"x"[..]])) as ArrayRef,
        )])
        .unwrap();
        let e = row(&batch, 0).unwrap_err();
        assert!(e.contains("column `bytes`") && e.contains("Binary"), "{e}");
    }
}
